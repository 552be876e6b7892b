// franz-go (github.com/twmb/franz-go) against `herald serve`: one scenario per run, results as
// JSON lines on stdout. Built by test/franz-go.test.ts with `go build` into a cache directory.
//
//	produce <bootstrap> <topic> <count> <compression>   idempotent (franz-go's default), acks=all
//	consume <bootstrap> <topic> <group> <count>          group consumer, CommitUncommittedOffsets, close
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func emit(value map[string]any) {
	line, _ := json.Marshal(value)
	fmt.Println(string(line))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func codec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// security returns SASL_SSL options when HERALD_TEST_SASL_USER is set: SCRAM-SHA-512 with
// HERALD_TEST_SASL_PASSWORD, TLS trusting the CA in HERALD_TEST_TLS_CA.
func security() []kgo.Opt {
	user := os.Getenv("HERALD_TEST_SASL_USER")
	if user == "" {
		return nil
	}
	pem, err := os.ReadFile(os.Getenv("HERALD_TEST_TLS_CA"))
	if err != nil {
		fail("CA: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	auth := scram.Auth{User: user, Pass: os.Getenv("HERALD_TEST_SASL_PASSWORD")}
	return []kgo.Opt{
		kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}),
		kgo.SASL(auth.AsSha512Mechanism()),
	}
}

func produce(bootstrap, topic string, count int, compression string) {
	client, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(codec(compression)),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.AllowAutoTopicCreation(),
		// After a lost connection franz-go refreshes metadata, at most once per MetadataMinAge
		// (5 s by default); a short one keeps the lost-acknowledgement test quick.
		kgo.MetadataMinAge(250 * time.Millisecond),
	}, security()...)...)
	if err != nil {
		fail("client: %v", err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mutex sync.Mutex
	var wait sync.WaitGroup
	offsets := map[string]bool{}
	var errors []string
	for index := 0; index < count; index++ {
		wait.Add(1)
		record := &kgo.Record{
			Key:   []byte(fmt.Sprintf("k%d", index)),
			Value: []byte(fmt.Sprintf("v-%d-%s", index, strings.Repeat("x", 64))),
		}
		client.Produce(ctx, record, func(record *kgo.Record, err error) {
			defer wait.Done()
			mutex.Lock()
			defer mutex.Unlock()
			if err != nil {
				errors = append(errors, err.Error())
				return
			}
			offsets[fmt.Sprintf("%d:%d", record.Partition, record.Offset)] = true
		})
	}
	wait.Wait()
	if len(errors) > 5 {
		errors = errors[:5]
	}
	emit(map[string]any{"event": "produced", "acked": len(offsets), "distinctOffsets": len(offsets), "errors": errors})
}

func consume(bootstrap, topic, group string, count int) {
	client, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	}, security()...)...)
	if err != nil {
		fail("client: %v", err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	values := map[string]int{}
	total := 0
	for total < count && ctx.Err() == nil {
		fetches := client.PollFetches(ctx)
		fetches.EachError(func(topic string, partition int32, err error) {
			if ctx.Err() == nil {
				emit(map[string]any{"event": "error", "partition": partition, "error": err.Error()})
			}
		})
		fetches.EachRecord(func(record *kgo.Record) {
			value := string(record.Value)
			values[value[:strings.LastIndex(value, "-")]]++
			total++
		})
	}
	commitCtx, commitCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer commitCancel()
	if err := client.CommitUncommittedOffsets(commitCtx); err != nil {
		fail("commit: %v", err)
	}
	committed := int64(0)
	for _, partitions := range client.CommittedOffsets() {
		for _, offset := range partitions {
			committed += offset.Offset
		}
	}
	emit(map[string]any{"event": "consumed", "count": total, "distinct": len(values), "committedTotal": committed})
}

// ping connects once (authenticating when security() says so) and reports the error, if any.
func ping(bootstrap string) {
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(bootstrap)}, security()...)...)
	if err != nil {
		fail("client: %v", err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	message := ""
	if err := client.Ping(ctx); err != nil {
		message = err.Error()
	}
	emit(map[string]any{"event": "ping", "error": message})
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "ping" {
		ping(os.Args[2])
		return
	}
	if len(os.Args) < 6 {
		fail("usage: %s produce|consume <bootstrap> <topic> ... | ping <bootstrap>", os.Args[0])
	}
	number := func(text string) int {
		value, err := strconv.Atoi(text)
		if err != nil {
			fail("not a number: %s", text)
		}
		return value
	}
	switch os.Args[1] {
	case "produce":
		produce(os.Args[2], os.Args[3], number(os.Args[4]), os.Args[5])
	case "consume":
		consume(os.Args[2], os.Args[3], os.Args[4], number(os.Args[5]))
	default:
		fail("unknown scenario %s", os.Args[1])
	}
}
