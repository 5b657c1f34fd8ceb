/**
 * Calls `onWake` when the page may have slept or lost the network: it became visible, regained focus,
 * or came back online. Returns the function that removes every listener it added. Outside a page
 * (Node, a worker without `document`) it adds nothing.
 */
export function watchPage(onWake: () => void): () => void {
  if (typeof document === 'undefined') return () => {};
  const removals: Array<() => void> = [];
  const listen = (target: EventTarget | undefined, type: string, listener: () => void) => {
    if (!target?.addEventListener) return;
    target.addEventListener(type, listener);
    removals.push(() => target.removeEventListener(type, listener));
  };
  listen(document, 'visibilitychange', () => {
    if (document.visibilityState === 'visible') onWake();
  });
  listen(globalThis as unknown as EventTarget, 'online', onWake);
  listen(globalThis as unknown as EventTarget, 'focus', onWake);
  return () => {
    for (const remove of removals.splice(0)) remove();
  };
}
