/** For sibling Herald packages (transports, conformance), not for applications: may change without notice. */

export { assertName } from './names.ts';
export { assertSubscribeOptions } from './transport-checks.ts';
