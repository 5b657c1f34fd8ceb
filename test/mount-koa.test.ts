import { start } from '../examples/koa-app/server.ts';
import { mountContract } from './helpers/mount-contract.ts';

mountContract('koa', start, { echo: false });
