"""confluent-kafka (librdkafka) and aiokafka, current versions from PyPI (installed by
`npm run setup` into ~/.cache/herald/python), against `herald serve`. One scenario per run,
results as JSON lines on stdout:

  confluent-produce <bootstrap> <topic> <count> <compression>   idempotent, acks=all
  confluent-consume <bootstrap> <topic> <group> <count>         subscribe, commit, close
  aiokafka-produce <bootstrap> <topic> <count> <compression>    idempotent, acks=all
  aiokafka-consume <bootstrap> <topic> <group> <count>          subscribe, commit, close
"""
import asyncio
import json
import sys
import time


def emit(value):
    print(json.dumps(value), flush=True)


def confluent_produce(bootstrap, topic, count, compression):
    from confluent_kafka import Producer, libversion
    producer = Producer({'bootstrap.servers': bootstrap, 'enable.idempotence': True, 'acks': 'all',
                         'compression.type': compression, 'linger.ms': 5})
    acked, errors = [], []

    def delivered(error, message):
        if error is not None:
            errors.append(str(error))
        else:
            acked.append([message.partition(), message.offset()])

    for index in range(count):
        producer.produce(topic, key=b'k%d' % index, value=b'v-%d-%s' % (index, b'x' * 64),
                         on_delivery=delivered)
        producer.poll(0)
    left = producer.flush(30)
    emit({'event': 'produced', 'library': libversion()[0], 'acked': len(acked),
          'distinctOffsets': len({tuple(offset) for offset in acked}), 'errors': errors[:5],
          'unflushed': left})


def confluent_consume(bootstrap, topic, group, count):
    from confluent_kafka import Consumer
    consumer = Consumer({'bootstrap.servers': bootstrap, 'group.id': group,
                         'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
    consumer.subscribe([topic])
    values, deadline = [], time.time() + 60
    try:
        while len(values) < count and time.time() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                emit({'event': 'error', 'error': str(message.error())})
                continue
            values.append(message.value().decode().rsplit('-', 1)[0])
        committed = consumer.commit(asynchronous=False) if values else []
        total = sum(part.offset for part in committed if part.offset >= 0)
    finally:
        consumer.close()
    emit({'event': 'consumed', 'count': len(values), 'distinct': len(set(values)), 'committedTotal': total})


async def aiokafka_produce(bootstrap, topic, count, compression):
    from aiokafka import AIOKafkaProducer
    import aiokafka
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks='all',
                                compression_type=None if compression == 'none' else compression,
                                linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=b'k%d' % index,
                                       value=b'v-%d-%s' % (index, b'x' * 64))
                   for index in range(count)]
        results = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    emit({'event': 'produced', 'library': aiokafka.__version__, 'acked': len(results),
          'distinctOffsets': len({(result.partition, result.offset) for result in results})})


async def aiokafka_consume(bootstrap, topic, group, count):
    from aiokafka import AIOKafkaConsumer
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                auto_offset_reset='earliest', enable_auto_commit=False)
    await consumer.start()
    values = []
    try:
        deadline = time.time() + 60
        while len(values) < count and time.time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                values.extend(message.value.decode().rsplit('-', 1)[0] for message in messages)
        await consumer.commit()
        total = 0
        for partition in consumer.assignment():
            offset = await consumer.committed(partition)
            total += offset if offset is not None and offset >= 0 else 0
    finally:
        await consumer.stop()
    emit({'event': 'consumed', 'count': len(values), 'distinct': len(set(values)), 'committedTotal': total})


def main(argv):
    scenario, bootstrap, topic = argv[1], argv[2], argv[3]
    if scenario == 'confluent-produce':
        confluent_produce(bootstrap, topic, int(argv[4]), argv[5])
    elif scenario == 'confluent-consume':
        confluent_consume(bootstrap, topic, argv[4], int(argv[5]))
    elif scenario == 'aiokafka-produce':
        asyncio.run(aiokafka_produce(bootstrap, topic, int(argv[4]), argv[5]))
    elif scenario == 'aiokafka-consume':
        asyncio.run(aiokafka_consume(bootstrap, topic, argv[4], int(argv[5])))
    else:
        raise SystemExit('unknown scenario ' + scenario)


if __name__ == '__main__':
    main(sys.argv)
