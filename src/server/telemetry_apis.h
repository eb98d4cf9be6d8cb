// KIP-714 client metrics: GetTelemetrySubscriptions (71), PushTelemetry (72)
// and ListClientMetricsResources (74). The subscriptions and the pushed
// metrics are src/telemetry/'s; this is their Kafka API.
#pragma once

#include <functional>
#include <memory>

#include "request_dispatcher.h"
#include "strata/metadata/metadata_service.h"

namespace strata::server {

void register_telemetry_apis(request_dispatcher& dispatcher, metadata::metadata_service& metadata);

}  // namespace strata::server
