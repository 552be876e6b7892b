import { memoryTransport } from '@herald/bus';
import { runConformance } from '@herald/conformance';

runConformance({ name: 'memory', create: () => memoryTransport({ maxMessageBytes: 256 * 1024 }) });
