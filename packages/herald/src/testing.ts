/** The test kit (`createTestBus`), re-exported for applications that import `herald`. */
export { createTestBus, type TestBus } from '@herald/bus/testing';
