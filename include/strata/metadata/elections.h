// Leader elections an operator asks for (ElectLeaders, KIP-460) and the
// unclean election `unclean.leader.election.enable` allows. Pure functions of
// the image, like the controller's other decisions.
#pragma once

#include <string_view>
#include <vector>

#include "strata/metadata/image.h"
#include "strata/protocol/messages/elect_leaders_request.h"
#include "strata/protocol/messages/elect_leaders_response.h"

namespace strata::metadata {

// Kafka's ElectionType.
enum class election_type : int8_t { preferred = 0, unclean = 1 };

// Whether `topic`'s partitions may elect a leader from outside the ISR: its
// own unclean.leader.election.enable, else the cluster-wide dynamic default,
// else `static_default` (the controller's config).
bool unclean_election_enabled(const metadata_image& image, std::string_view topic, bool static_default);

// A broker that may lead: registered, unfenced, not shutting down, and not
// `excluded` (the broker being fenced, whose records precede these).
bool may_lead(const metadata_image& image, int32_t broker_id, int32_t excluded = -1);

// The PartitionChangeRecord of an unclean election for `p` (no live ISR
// member): the first replica that may lead, alone in the ISR, the partition
// RECOVERING; nullopt when no replica may lead.
std::optional<records::partition_change_record> unclean_election(const metadata_image& image,
                                                                  const topic_image& topic, const partition_state& p,
                                                                  int32_t excluded = -1);

// ElectLeaders with Kafka's semantics: preferred elects the first assigned
// replica when it is in the ISR and may lead (ELECTION_NOT_NEEDED when it
// leads already, PREFERRED_LEADER_NOT_AVAILABLE when it cannot); unclean
// elects only for a leaderless partition, a live ISR member if any, else
// the first live replica (ELIGIBLE_LEADERS_NOT_AVAILABLE when none). Named
// partitions of unknown topics answer UNKNOWN_TOPIC_OR_PARTITION. With no
// partitions named, every partition is considered and only those that had
// an election, or an error other than ELECTION_NOT_NEEDED, are answered.
std::vector<record> elect_leaders(const metadata_image& image, const protocol::messages::elect_leaders_request& request,
                                  int16_t version, protocol::messages::elect_leaders_response& response);

}  // namespace strata::metadata
