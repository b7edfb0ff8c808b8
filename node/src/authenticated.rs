//! The caller a request was authenticated as, kept in its extensions so the
//! key is checked once: by the API's routing layer, or by the node that
//! forwarded it over the data plane.

use nexus_raft::Principal;

/// A caller already authenticated for this request.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);
