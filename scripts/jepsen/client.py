"""The Jepsen-style run's Kafka clients: confluent-kafka (librdkafka), installed by `npm run setup`
into ~/.cache/herald/python. Each role prints its history as JSON lines on stdout, one operation
per line, flushed at once so a line written before a kill is never lost:

  producer <bootstrap> <topic> <name> <keys> <rate>   idempotent, acks=all; values "<name>-<seq>",
      keyed "k<seq % keys>"; prints invoke before each send and ok (partition, offset) or info
      (indeterminate: the send may or may not be stored) for its outcome. Stops on SIGTERM: sends
      nothing more and waits for the sends in flight (at most FLUSH_S), printing info for the rest.
  consumer <bootstrap> <topic> <group> <name>        a group member; prints recv for each record,
      assign/revoke for each rebalance and commit for each synchronous commit (every COMMIT_S).
  read <bootstrap> <topic> <partitions>              the final read: every partition from offset 0
      to its high watermark, without a group; prints read for each record, then done.
"""
import json
import signal
import sys
import time

FLUSH_S = 60
COMMIT_S = 0.5
# librdkafka retries a send until message.timeout.ms; long enough to outlast a restart of the
# server under test (Kafka recovers its logs for 10-20 s after kill -9 on this machine).
MESSAGE_TIMEOUT_MS = 180_000
READ_TIMEOUT_S = 120

stopping = False


def emit(value):
    sys.stdout.write(json.dumps(value, separators=(',', ':')) + '\n')
    sys.stdout.flush()


def on_sigterm(_signum, _frame):
    global stopping
    stopping = True


def now_ms():
    return int(time.time() * 1000)


def producer(bootstrap, topic, name, keys, rate):
    from confluent_kafka import Producer
    fatal = []

    def on_error(error):
        if error.fatal():
            fatal.append(str(error))

    client = Producer({'bootstrap.servers': bootstrap, 'enable.idempotence': True, 'acks': 'all',
                       'linger.ms': 2, 'message.timeout.ms': MESSAGE_TIMEOUT_MS,
                       'reconnect.backoff.max.ms': 1000, 'socket.timeout.ms': 10_000,
                       'error_cb': on_error})
    pending = set()

    def delivered(error, message):
        value = message.value().decode()
        pending.discard(value)
        if error is None:
            emit({'f': 'ok', 'p': name, 'v': value, 'k': message.key().decode(),
                  'partition': message.partition(), 'offset': message.offset(), 't': now_ms()})
        else:
            emit({'f': 'info', 'p': name, 'v': value, 'error': str(error), 't': now_ms()})

    interval = 1.0 / rate
    seq = 0
    next_at = time.monotonic()
    while not stopping and not fatal:
        wait = next_at - time.monotonic()
        client.poll(max(0.0, wait))
        if time.monotonic() < next_at:
            continue
        next_at += interval
        value = '%s-%d' % (name, seq)
        key = 'k%d' % (seq % keys)
        seq += 1
        emit({'f': 'invoke', 'p': name, 'v': value, 'k': key, 't': now_ms()})
        try:
            client.produce(topic, key=key.encode(), value=value.encode(), on_delivery=delivered)
            pending.add(value)
        except BufferError as error:
            emit({'f': 'info', 'p': name, 'v': value, 'error': str(error), 't': now_ms()})
    client.flush(FLUSH_S)
    for value in sorted(pending):
        emit({'f': 'info', 'p': name, 'v': value, 'error': 'not acknowledged at exit', 't': now_ms()})
    if fatal:
        emit({'f': 'fatal', 'p': name, 'error': fatal[0], 't': now_ms()})
        sys.exit(3)


def consumer(bootstrap, topic, group, name):
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    client = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'auto.offset.reset': 'earliest',
                       'enable.auto.commit': False, 'session.timeout.ms': 10_000,
                       'heartbeat.interval.ms': 1000, 'reconnect.backoff.max.ms': 1000})
    # What this member consumed since its last commit, per partition: the next offset to read.
    position = {}

    def assigned(_client, partitions):
        emit({'f': 'assign', 'c': name, 'partitions': [p.partition for p in partitions], 't': now_ms()})

    def revoked(_client, partitions):
        commit()
        emit({'f': 'revoke', 'c': name, 'partitions': [p.partition for p in partitions], 't': now_ms()})
        for p in partitions:
            position.pop(p.partition, None)

    def commit():
        if not position:
            return
        offsets = [TopicPartition(topic, p, o) for p, o in position.items()]
        try:
            client.commit(offsets=offsets, asynchronous=False)
            emit({'f': 'commit', 'c': name, 'offsets': [[p, o] for p, o in position.items()], 't': now_ms()})
            position.clear()
        except KafkaException as error:
            emit({'f': 'commit-fail', 'c': name, 'error': str(error), 't': now_ms()})

    client.subscribe([topic], on_assign=assigned, on_revoke=revoked)
    last_commit = time.monotonic()
    while not stopping:
        message = client.poll(0.2)
        if message is not None:
            if message.error() is None:
                emit({'f': 'recv', 'c': name, 'v': message.value().decode(), 'k': message.key().decode(),
                      'partition': message.partition(), 'offset': message.offset(), 't': now_ms()})
                position[message.partition()] = message.offset() + 1
            else:
                emit({'f': 'consumer-error', 'c': name, 'error': str(message.error()), 't': now_ms()})
        if time.monotonic() - last_commit >= COMMIT_S:
            commit()
            last_commit = time.monotonic()
    commit()
    client.close()


def read(bootstrap, topic, partitions):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    client = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'jepsen-final-read',
                       'enable.auto.commit': False, 'auto.offset.reset': 'earliest'})
    ends = {}
    for partition in range(partitions):
        _low, high = client.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
        ends[partition] = high
    emit({'f': 'ends', 'ends': [[p, e] for p, e in ends.items()]})
    left = {p for p, e in ends.items() if e > 0}
    client.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in left])
    deadline = time.monotonic() + READ_TIMEOUT_S
    while left and time.monotonic() < deadline:
        message = client.poll(0.5)
        if message is None or message.error() is not None:
            continue
        emit({'f': 'read', 'v': message.value().decode(), 'k': message.key().decode(),
              'partition': message.partition(), 'offset': message.offset()})
        if message.offset() + 1 >= ends[message.partition()]:
            left.discard(message.partition())
    client.close()
    emit({'f': 'done', 'unread': sorted(left)})


def main(argv):
    signal.signal(signal.SIGTERM, on_sigterm)
    role = argv[0]
    if role == 'producer':
        producer(argv[1], argv[2], argv[3], int(argv[4]), float(argv[5]))
    elif role == 'consumer':
        consumer(argv[1], argv[2], argv[3], argv[4])
    elif role == 'read':
        read(argv[1], argv[2], int(argv[3]))
    else:
        sys.exit('usage: client.py producer|consumer|read ...')


if __name__ == '__main__':
    main(sys.argv[1:])
