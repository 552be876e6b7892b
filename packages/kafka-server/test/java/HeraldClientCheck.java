// Apache Kafka's Java client (kafka-clients 4.x) against `herald serve`: one scenario per run,
// named by the first argument, printing one JSON object per line for the test to assert on.
// Compiled by test/java-client.test.ts with `javac -cp "$HERALD_KAFKA_DIR/libs/*"` into a cache
// directory keyed by this file's content hash.
//
//   produce <bootstrap> <topic> <count> <compression>   the producer's defaults: idempotent, acks=all
//   consume <bootstrap> <topic> <group> <count>          subscribe, commitSync, close
//   admin <bootstrap> <topic> <group>                    Admin: topics, groups, offsets
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class HeraldClientCheck {
  private HeraldClientCheck() {}

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "produce" -> produce(args[1], args[2], Integer.parseInt(args[3]), args[4]);
      case "consume" -> consume(args[1], args[2], args[3], Integer.parseInt(args[4]));
      case "admin" -> admin(args[1], args[2], args[3]);
      default -> throw new IllegalArgumentException("unknown scenario " + args[0]);
    }
  }

  private static String quote(String text) {
    return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  private static String list(Iterable<?> values) {
    List<String> parts = new ArrayList<>();
    for (Object value : values) parts.add(value instanceof Number ? value.toString() : quote(String.valueOf(value)));
    return "[" + String.join(",", parts) + "]";
  }

  /**
   * SASL_SSL with SCRAM-SHA-512 when HERALD_TEST_SASL_USER is set (password in
   * HERALD_TEST_SASL_PASSWORD, the broker's CA as a PEM file in HERALD_TEST_TLS_CA).
   */
  private static Properties secured(Properties props) {
    String user = System.getenv("HERALD_TEST_SASL_USER");
    if (user == null || user.isEmpty()) return props;
    props.put("security.protocol", "SASL_SSL");
    props.put("sasl.mechanism", "SCRAM-SHA-512");
    props.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username="
        + quote(user) + " password=" + quote(System.getenv("HERALD_TEST_SASL_PASSWORD")) + ";");
    props.put("ssl.truststore.type", "PEM");
    props.put("ssl.truststore.location", System.getenv("HERALD_TEST_TLS_CA"));
    return props;
  }

  private static void produce(String bootstrap, String topic, int count, String compression) throws Exception {
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
    props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(secured(props))) {
      List<Future<RecordMetadata>> sent = new ArrayList<>();
      for (int index = 0; index < count; index++) {
        sent.add(producer.send(new ProducerRecord<>(topic, "k-" + index, "v-" + index + "-" + "x".repeat(64))));
      }
      producer.flush();
      Set<String> offsets = new TreeSet<>();
      for (Future<RecordMetadata> future : sent) {
        RecordMetadata metadata = future.get();
        offsets.add(metadata.partition() + ":" + metadata.offset());
      }
      System.out.println("{\"event\":\"produced\",\"acked\":" + sent.size() + ",\"distinctOffsets\":" + offsets.size() + "}");
    }
  }

  private static void consume(String bootstrap, String topic, String group, int count) {
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    List<String> values = new ArrayList<>();
    long deadline = System.currentTimeMillis() + 60_000;
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(secured(props))) {
      consumer.subscribe(Collections.singletonList(topic));
      while (values.size() < count && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
          values.add(record.value().substring(0, record.value().indexOf('-', 2)));
        }
      }
      consumer.commitSync();
      Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(consumer.assignment());
      long total = 0;
      for (OffsetAndMetadata offset : committed.values()) if (offset != null) total += offset.offset();
      System.out.println("{\"event\":\"consumed\",\"count\":" + values.size() + ",\"values\":" + list(values)
          + ",\"committedTotal\":" + total + "}");
    }
  }

  private static void admin(String bootstrap, String topic, String group) throws Exception {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(secured(props))) {
      admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get();
      TopicDescription description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
      System.out.println("{\"event\":\"described-topic\",\"name\":" + quote(description.name()) + ",\"partitions\":"
          + description.partitions().size() + "}");
      Set<String> names = admin.listTopics().names().get();
      System.out.println("{\"event\":\"listed-topics\",\"names\":" + list(new TreeSet<>(names)) + "}");
      List<String> groups = new ArrayList<>();
      for (GroupListing listing : admin.listGroups().all().get()) groups.add(listing.groupId());
      System.out.println("{\"event\":\"listed-groups\",\"groups\":" + list(groups) + "}");
      ConsumerGroupDescription described = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
      System.out.println("{\"event\":\"described-group\",\"state\":" + quote(String.valueOf(described.groupState()))
          + ",\"members\":" + described.members().size() + "}");
      Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
      Map<TopicPartition, OffsetAndMetadata> rewound = new HashMap<>();
      for (TopicPartition partition : offsets.keySet()) rewound.put(partition, new OffsetAndMetadata(0));
      admin.alterConsumerGroupOffsets(group, rewound).all().get();
      Map<TopicPartition, OffsetAndMetadata> after = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
      long total = 0;
      for (OffsetAndMetadata offset : after.values()) if (offset != null) total += offset.offset();
      System.out.println("{\"event\":\"altered-offsets\",\"partitions\":" + after.size() + ",\"committedTotal\":" + total + "}");
      TopicPartition first = offsets.keySet().iterator().next();
      admin.deleteConsumerGroupOffsets(group, Set.of(first)).all().get();
      Map<TopicPartition, OffsetAndMetadata> left = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
      int present = 0;
      for (OffsetAndMetadata offset : left.values()) if (offset != null) present++;
      System.out.println("{\"event\":\"deleted-offsets\",\"remaining\":" + present + "}");
      admin.deleteConsumerGroups(List.of(group)).all().get();
      List<String> groupsAfter = new ArrayList<>();
      for (GroupListing listing : admin.listGroups().all().get()) groupsAfter.add(listing.groupId());
      System.out.println("{\"event\":\"deleted-group\",\"groups\":" + list(groupsAfter) + "}");
      admin.deleteTopics(List.of(topic)).all().get();
      Set<String> namesAfter = admin.listTopics().names().get();
      System.out.println("{\"event\":\"deleted-topic\",\"names\":" + list(new TreeSet<>(namesAfter)) + "}");
    }
  }
}
