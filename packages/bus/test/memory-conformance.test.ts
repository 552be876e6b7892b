import { memoryTransport } from '@herald/bus';
import { runConformance } from '@herald/conformance';

runConformance({ name: 'memory', create: () => memoryTransport({ messageBytesMax: 256 * 1024 }) });
