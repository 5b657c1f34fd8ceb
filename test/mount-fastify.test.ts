import { start } from '../examples/fastify-app/server.ts';
import { mountContract } from './helpers/mount-contract.ts';

mountContract('fastify', start, { echo: true });
