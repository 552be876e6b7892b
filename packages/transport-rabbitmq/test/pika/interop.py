"""A client Herald did not write: Python pika, speaking the CloudEvents AMQP binding.

    interop.py publish <url> <exchange> <routing-key> <event-id>
        Publishes one CloudEvent (binary mode: cloudEvents:* application properties,
        content_type on the message) with publisher confirms, then prints "published".
    interop.py consume <url> <exchange> <pattern> <timeout-seconds>
        Binds an exclusive queue to the exchange with the pattern, prints "ready", waits for one
        message and prints it as one JSON line: routing_key, content_type, headers, body.
"""
import json
import sys

import pika


def publish(url, exchange, routing_key, event_id):
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True, passive=True)
    headers = {
        "cloudEvents:specversion": "1.0",
        "cloudEvents:id": event_id,
        "cloudEvents:source": "/interop/pika",
        "cloudEvents:type": routing_key,
        "cloudEvents:time": "2026-01-02T03:04:05Z",
        "cloudEvents:partitionkey": "o-42",
        "cloudEvents:tenant": "acme",
    }
    body = json.dumps({"orderId": "o-42", "total": 12.5}).encode("utf-8")
    properties = pika.BasicProperties(content_type="application/json", headers=headers, delivery_mode=2)
    # mandatory: an unroutable message raises instead of vanishing.
    channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)
    print("published", flush=True)
    connection.close()


def consume(url, exchange, pattern, timeout_seconds):
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True, passive=True)
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    channel.queue_bind(queue=queue, exchange=exchange, routing_key=pattern)
    print("ready", flush=True)
    for method, properties, body in channel.consume(queue, inactivity_timeout=float(timeout_seconds)):
        if method is None:
            print(json.dumps({"error": "no message within %s s" % timeout_seconds}), flush=True)
            sys.exit(1)
        channel.basic_ack(method.delivery_tag)
        headers = {
            name: value.decode("utf-8") if isinstance(value, bytes) else value
            for name, value in (properties.headers or {}).items()
        }
        print(
            json.dumps(
                {
                    "routing_key": method.routing_key,
                    "content_type": properties.content_type,
                    "headers": headers,
                    "body": body.decode("utf-8"),
                }
            ),
            flush=True,
        )
        break
    connection.close()


if __name__ == "__main__":
    mode, *arguments = sys.argv[1:]
    {"publish": publish, "consume": consume}[mode](*arguments)
