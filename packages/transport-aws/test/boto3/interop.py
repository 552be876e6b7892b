"""Interop peer for test/interop.test.ts: boto3 (installed with moto into the PyPI virtualenv).

  interop.py publish ENDPOINT TOPIC_ARN   publishes one CloudEvent the way a non-Herald producer
                                          would: attributes ce_*, content-type, JSON body, FIFO ids.
  interop.py receive ENDPOINT QUEUE_URL   receives one message, deletes it, prints it as JSON.
"""
import json
import sys

import boto3


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def string(value):
    return {"DataType": "String", "StringValue": value}


def publish(endpoint, topic_arn):
    client("sns", endpoint).publish(
        TopicArn=topic_arn,
        Message=json.dumps({"orderId": "py-1", "total": 7}),
        MessageGroupId="py-1",
        MessageDeduplicationId="boto3-event-1",
        MessageAttributes={
            "ce_id": string("boto3-event-1"),
            "ce_source": string("/python"),
            "ce_specversion": string("1.0"),
            "ce_type": string("order.created"),
            "ce_partitionkey": string("py-1"),
            "content-type": string("application/json"),
        },
    )
    print(json.dumps({"published": True}), flush=True)


def receive(endpoint, queue_url):
    sqs = client("sqs", endpoint)
    for _ in range(20):
        result = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        for message in result.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            attributes = {name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()}
            print(json.dumps({"body": message["Body"], "attributes": attributes}), flush=True)
            return
    sys.exit("no message within 20 receives")


if __name__ == "__main__":
    command, endpoint, target = sys.argv[1:4]
    publish(endpoint, target) if command == "publish" else receive(endpoint, target)
