/**
 * `@herald/kafka-server`: a single-node Kafka-protocol server over Herald's embedded broker, so
 * unmodified Kafka clients (librdkafka/kcat, kafka-python, kafkajs, @platformatic/kafka) produce
 * and consume. See README.md for the example, the bounds and what is not implemented.
 */
export { registerPureJsCodecs } from './compression.ts';
export type { ResponseSize } from './context.ts';
export type { GroupCoordinatorOptions } from './group-coordinator.ts';
export {
  ACL_OPERATIONS,
  ACL_RESOURCE_TYPES,
  type AclEntry,
  type AclOperation,
  type AclPatternType,
  type AclPermission,
  type AclResourceType,
  aclsFile,
  addAcls,
  CLUSTER_RESOURCE_NAME,
  formatAcl,
  readAcls,
  removeAcls,
} from './security/acl-store.ts';
export { SASL_MECHANISMS, type SaslMechanism } from './security/sasl-session.ts';
export { SCRAM_ITERATIONS_MAX, SCRAM_ITERATIONS_MIN } from './security/scram.ts';
export type { TlsFiles } from './security/tls-files.ts';
export { addUser, listUsers, removeUser, usersFile } from './security/user-store.ts';
export {
  type KafkaServer,
  type KafkaServerAclOptions,
  KafkaServerConfigError,
  type KafkaServerOptions,
  type KafkaServerSaslOptions,
  startKafkaServer,
} from './server.ts';
