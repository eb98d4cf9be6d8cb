// Produces records with chosen CreateTime timestamps through Sarama (Debian's
// golang-github-shopify-sarama-dev, 1.22), as one batch per call to
// SendMessages, to partition 0 of a topic. Sarama 1.22 leaves a v2 batch's
// maxTimestamp at -1, which is what the integration test exercises.
//
// Usage: sarama_produce BOOTSTRAP TOPIC COUNT FIRST_TIMESTAMP_MS STEP_MS
// Prints "offset N" for the first record's offset.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/Shopify/sarama"
)

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: sarama_produce BOOTSTRAP TOPIC COUNT FIRST_TIMESTAMP_MS STEP_MS")
		os.Exit(2)
	}
	count, _ := strconv.Atoi(os.Args[3])
	first, _ := strconv.ParseInt(os.Args[4], 10, 64)
	step, _ := strconv.ParseInt(os.Args[5], 10, 64)

	config := sarama.NewConfig()
	config.Version = sarama.V1_0_0_0 // record batches (magic 2)
	config.Producer.Return.Successes = true
	config.Producer.RequiredAcks = sarama.WaitForAll
	config.Producer.Partitioner = sarama.NewManualPartitioner
	config.Producer.Flush.Messages = count // one batch for the whole call
	config.Producer.Flush.Frequency = time.Second
	producer, err := sarama.NewSyncProducer([]string{os.Args[1]}, config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
	defer producer.Close()

	messages := make([]*sarama.ProducerMessage, 0, count)
	for i := 0; i < count; i++ {
		ts := first + int64(i)*step
		messages = append(messages, &sarama.ProducerMessage{
			Topic:     os.Args[2],
			Partition: 0,
			Key:       sarama.StringEncoder(fmt.Sprintf("k%d", i)),
			Value:     sarama.StringEncoder(fmt.Sprintf("v%d", i)),
			Timestamp: time.Unix(ts/1000, (ts%1000)*int64(time.Millisecond)),
		})
	}
	if err := producer.SendMessages(messages); err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
		os.Exit(1)
	}
	fmt.Printf("offset %d\n", messages[0].Offset)
}
