/**
 * Imports an optional peer package (`load` is its dynamic `import()`), or throws an error that names the
 * setting that asked for it and the package to install.
 * @example
 * const { createPostgresStore } = await importOptionalPeer('@tessera/postgres', 'TESSERA_DATABASE_URL', () => import('@tessera/postgres'));
 */
export async function importOptionalPeer<T>(
  name: string,
  setting: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(name)) {
      throw new Error(`${setting} needs the package ${name}: install it (npm install ${name}).`, {
        cause: error,
      });
    }
    throw error;
  }
}
