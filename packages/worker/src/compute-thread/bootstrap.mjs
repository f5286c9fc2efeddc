// The compute thread's entry. Sources are TypeScript run directly: register tsx's loader in this
// thread too, then serve.
import { register } from 'tsx/esm/api';

register();
await import('./serve.ts');
