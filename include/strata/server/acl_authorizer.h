// The broker's authorizer, made from its configuration: none (allow all)
// without `authorizer.class.name`, else Kafka's StandardAuthorizer fed with
// the ACLs of every metadata image (AccessControlEntryRecord), so that an
// ACL created through any broker takes effect on each as soon as its
// metadata log has the record.
#pragma once

#include <memory>

#include "strata/metadata/metadata_service.h"
#include "strata/security/acl.h"
#include "strata/server/broker_config.h"

namespace strata::server {

// Whether `authorizer.class.name` names the StandardAuthorizer.
bool authorizer_enabled(const broker_config& config);

// Null when no authorizer is configured. Subscribes to `metadata`'s images:
// call before the quorum starts; the authorizer must outlive the service's
// listeners (the broker keeps both until it stops).
std::shared_ptr<security::standard_authorizer> make_authorizer(const broker_config& config,
                                                               metadata::metadata_service& metadata);

// The image's ACLs as bindings.
std::vector<security::acl_binding> acl_bindings(const metadata::metadata_image& image);

}  // namespace strata::server
