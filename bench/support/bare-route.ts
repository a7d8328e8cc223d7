/**
 * The baseline of bench:commands: a bare fastify route with the same JSON parsing and zod
 * validation as the POST route, answering at once. Run as a child process.
 */
import { listenWithValidatedRoute } from './validated-route.ts';

await listenWithValidatedRoute(async () => {});
