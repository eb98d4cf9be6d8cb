// Metadata snapshots: a metadata_image as the bytes of a KRaft snapshot
// (the `<end offset>-<epoch>.checkpoint` file of `__cluster_metadata-0`,
// fetched by followers with FetchSnapshot), and back.
//
// Format (Kafka's, KIP-630), so Kafka's tools can read it: a sequence of
// uncompressed v2 record batches with consecutive offsets from 0,
//
//   control batch   SnapshotHeaderRecord (control type 3, version 0,
//                   lastContainedLogTimestamp)
//   data batches    metadata records, key null, value framed as in the log
//                   (records.h: frame version, api key, version, message);
//                   a batch is cut after ~1 MiB of records
//   control batch   SnapshotFooterRecord (control type 4)
//
// partitionLeaderEpoch of every batch is the snapshot's epoch. The data
// records are the ones that rebuild the image from nothing, in this order:
// FeatureLevelRecord (metadata.version first), RegisterBrokerRecord per
// broker (its fenced and in-controlled-shutdown state as fields),
// TopicRecord then its PartitionRecords (current replicas, ISR, leader,
// epochs) per topic, ConfigRecord per set config, ProducerIdsRecord (the
// next producer id, when any was handed out), AccessControlEntryRecord per
// ACL. Deleted topics are simply absent. Loading replays them into a
// metadata_delta on an empty image.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "strata/metadata/image.h"

namespace strata::metadata {

// The snapshot bytes of `image`. `epoch` goes into every batch's
// partitionLeaderEpoch; `timestamp_ms` is the header's
// lastContainedLogTimestamp and the records' timestamp.
std::string write_snapshot(const metadata_image& image, int32_t epoch = 0, int64_t timestamp_ms = 0);

// The image the snapshot holds, with `end_offset` as its end offset. Throws
// protocol::decode_error for bytes that are not a whole snapshot in the
// format above (bad framing or CRC, missing header or footer, an unknown
// record), std::invalid_argument for records inconsistent with each other.
std::shared_ptr<const metadata_image> read_snapshot(std::string_view bytes, int64_t end_offset);

// What changed from `before` to `after` when an image is replaced wholesale
// (a snapshot loaded): topics created, deleted (by id) and changed (contents
// differ); brokers_changed and configs_changed are set when they differ.
image_changes diff_images(const metadata_image& before, const metadata_image& after);

}  // namespace strata::metadata
