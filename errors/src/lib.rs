//! The error catalog: every error a user of the API or CLI can see has a
//! stable code, an HTTP status and a hint. `docs/errors.md` lists them all and
//! a test fails when the two disagree.

#![deny(missing_docs)]

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

macro_rules! catalog {
    ($( $(#[$doc:meta])* $variant:ident = ($code:literal, $status:literal, $hint:literal), )*) => {
        /// A stable, documented error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code in the catalog, in documentation order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears on the wire and in docs/errors.md.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status the API answers with.
            pub fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// The code whose wire form is `code`, if it is in the catalog.
            pub fn parse(code: &str) -> Option<ErrorCode> {
                Self::ALL.iter().copied().find(|c| c.as_str() == code)
            }

            /// What the user can do about it.
            pub fn hint(self) -> &'static str {
                match self { $(ErrorCode::$variant => $hint,)* }
            }
        }
    };
}

catalog! {
    // --- workbook files -------------------------------------------------
    /// The path does not exist or cannot be read.
    WorkbookUnreadable = ("WORKBOOK_UNREADABLE", 400, "check the path and its permissions"),
    /// The file is not a SQLite database, or has no workbook `meta` table.
    WorkbookNotAWorkbook = ("WORKBOOK_NOT_A_WORKBOOK", 400, "pass a file made by `nexus workbook new` or `nexus workbook pack`"),
    /// The workbook's format version is newer than this node understands.
    WorkbookVersionUnsupported = ("WORKBOOK_VERSION_UNSUPPORTED", 400, "upgrade this node, or re-pack the workbook with this node's version"),
    /// The file is shorter than its SQLite header says.
    WorkbookTruncated = ("WORKBOOK_TRUNCATED", 400, "the file was cut short (interrupted copy or upload); copy it again from its source"),
    /// SQLite's integrity check failed or a table is malformed.
    WorkbookCorrupt = ("WORKBOOK_CORRUPT", 400, "restore the workbook from a good copy; `sqlite3 FILE 'PRAGMA integrity_check'` shows the damage"),
    /// A module stored in (or packed into) the workbook is not valid WebAssembly.
    WorkbookModuleInvalid = ("WORKBOOK_MODULE_INVALID", 400, "rebuild the module (e.g. `cargo build --target wasm32-wasip1`) and pack again"),
    /// A module is larger than the node (or the sandbox's profile) compiles.
    ModuleTooLarge = ("MODULE_TOO_LARGE", 413, "the message names the limit, the node's or the profile's; make the module smaller, raise `limits.max_module_bytes` (or the profile's `max_module_mib`) in nexus.toml, or dock under a roomier profile"),
    /// A module defines more functions than the node (or the sandbox's profile) compiles.
    ModuleTooManyFunctions = ("MODULE_TOO_MANY_FUNCTIONS", 422, "the message names the limit, the node's or the profile's; build with fewer functions (LTO, dead-code elimination), or raise `limits.max_module_functions` (or the profile's `max_module_functions`)"),
    /// A function of the module is too large or too deeply nested to compile.
    ModuleTooComplex = ("MODULE_TOO_COMPLEX", 422, "the message names the function and the limit (`limits.max_function_bytes`, `limits.max_nesting_depth`); split the function"),
    /// Compiling the module did not finish within the compile deadline (the node's, or the profile's if tighter).
    ModuleCompileTimeout = ("MODULE_COMPILE_TIMEOUT", 422, "the module takes too long to compile; make it smaller, or raise `limits.compile_timeout_ms` (or the profile's `compile_ms`) in nexus.toml"),
    /// `workbook.toml` is missing, unparsable, or names files that do not exist.
    WorkbookManifestInvalid = ("WORKBOOK_MANIFEST_INVALID", 400, "fix workbook.toml; docs/guide.md describes its fields"),
    /// The workbook's entry names a module it does not contain.
    WorkbookEntryMissing = ("WORKBOOK_ENTRY_MISSING", 400, "set `entry` in workbook.toml to one of the packed modules"),
    /// Writing the workbook file failed.
    WorkbookWriteFailed = ("WORKBOOK_WRITE_FAILED", 500, "check free disk space and permissions of the output path"),
    /// The workbook has no signature and a signature is required.
    WorkbookUnsigned = ("WORKBOOK_UNSIGNED", 403, "sign it with `nexus workbook sign FILE` by a signer this node trusts ([dock] trusted_signers)"),
    /// A signature does not verify, or a module changed after signing.
    WorkbookSignatureInvalid = ("WORKBOOK_SIGNATURE_INVALID", 400, "the workbook's code changed after signing (or the signature is damaged); rebuild it from its source and sign it again"),
    /// The workbook is validly signed, but by no signer this node trusts.
    WorkbookSignerUntrusted = ("WORKBOOK_SIGNER_UNTRUSTED", 403, "add the signer's did:key to [dock] trusted_signers in nexus.toml, or have a trusted signer sign it"),

    // --- authentication and tenants -------------------------------------
    /// No `Authorization: Bearer` header.
    AuthMissingKey = ("AUTH_MISSING_KEY", 401, "send `Authorization: Bearer <key>`; the admin key is in the data dir's admin.key"),
    /// The bearer key is not known.
    AuthInvalidKey = ("AUTH_INVALID_KEY", 401, "check the key; `nexus tenant create` makes a new tenant key"),
    /// The key is valid but lacks the role for this operation.
    AuthForbidden = ("AUTH_FORBIDDEN", 403, "this operation needs the admin key"),
    /// No tenant with this name exists.
    TenantNotFound = ("TENANT_NOT_FOUND", 404, "list tenants with `nexus tenant ls` (admin key)"),
    /// A tenant with this name already exists.
    TenantExists = ("TENANT_EXISTS", 409, "choose another tenant name"),
    /// The tenant name is empty, too long or has characters outside [a-z0-9_-].
    TenantNameInvalid = ("TENANT_NAME_INVALID", 400, "use 1-63 characters from a-z, 0-9, '-' and '_'"),
    /// The tenant still owns sandboxes, and the removal was not forced.
    TenantHasSandboxes = ("TENANT_HAS_SANDBOXES", 409, "remove its sandboxes first, or force the removal (`nexus tenant rm NAME --force`, `?force=true`), which removes them too"),
    /// The bearer key was revoked.
    AuthKeyRevoked = ("AUTH_KEY_REVOKED", 401, "this key no longer works; use another key, or ask an admin for a new one (`nexus key create NAME`)"),
    /// No live API key with this id (or name) is visible to the caller.
    KeyNotFound = ("KEY_NOT_FOUND", 404, "list the keys you can see with `nexus key ls`"),
    /// The key name is empty, too long or has characters outside [a-z0-9_-].
    KeyNameInvalid = ("KEY_NAME_INVALID", 400, "use 1-63 characters from a-z, 0-9, '-' and '_'"),
    /// The tenant already has a live key with this name.
    KeyNameTaken = ("KEY_NAME_TAKEN", 409, "choose another name, or revoke the key that has it first (`nexus key revoke NAME`)"),
    /// The change would leave the cluster without a live admin key.
    KeyLastAdmin = ("KEY_LAST_ADMIN", 409, "create another admin key first (`nexus key create NAME --role admin`), switch to it, then revoke this one"),

    // --- sandboxes and calls ---------------------------------------------
    /// No sandbox with this id exists for the caller's tenant.
    SandboxNotFound = ("SANDBOX_NOT_FOUND", 404, "list your sandboxes with `nexus sandbox ls`"),
    /// The sandbox name is empty, too long or has unusual characters.
    SandboxNameInvalid = ("SANDBOX_NAME_INVALID", 400, "use 1-63 characters from a-z, A-Z, 0-9, '.', '-' and '_'"),
    /// Another sandbox of this tenant already has this name.
    SandboxNameTaken = ("SANDBOX_NAME_TAKEN", 409, "pick another name with --name, or remove the other sandbox"),
    /// The lifecycle does not allow this transition from the current state.
    SandboxInvalidTransition = ("SANDBOX_INVALID_TRANSITION", 409, "the message lists the states reachable from the current one"),
    /// The sandbox changed since the caller read it (optimistic concurrency).
    SandboxStaleGeneration = ("SANDBOX_STALE_GENERATION", 409, "read the sandbox again and retry with its current generation"),
    /// The sandbox is archived or deleted and cannot take calls.
    SandboxNotRunnable = ("SANDBOX_NOT_RUNNABLE", 409, "resume an archived sandbox with `nexus sandbox resume ID`; a deleted one is gone"),
    /// The guest trapped (unreachable, out-of-bounds access, stack overflow...).
    CallTrapped = ("CALL_TRAPPED", 422, "the message names the trap; fix the guest and dock it again"),
    /// The guest used more CPU time than its profile allows.
    CallCpuLimit = ("CALL_CPU_LIMIT", 422, "the guest ran past its profile's CPU time; make it do less per call or dock it with a larger profile"),
    /// The guest tried to grow memory past its profile's cap.
    CallMemoryLimit = ("CALL_MEMORY_LIMIT", 422, "the guest hit its profile's memory cap; use less memory or dock it with a larger profile"),
    /// The call did not finish before its wall-clock deadline.
    CallTimeout = ("CALL_TIMEOUT", 504, "the call exceeded its wall-clock deadline"),
    /// Every wasm instance slot of the node stayed taken for the call's whole wait.
    InstancesExhausted = ("INSTANCES_EXHAUSTED", 503, "retry after the Retry-After seconds; the node runs at most `limits.max_instances` wasm instances at once (calls in flight plus live kernels): raise it if the machine has the memory, or spread the sandboxes over more nodes"),
    /// The guest wrote more output than its profile allows.
    CallOutputLimit = ("CALL_OUTPUT_LIMIT", 422, "write less to stdout/stderr, or dock with a profile with a larger output cap"),
    /// The module could not be instantiated (missing import, no `_start`...).
    CallInstantiateFailed = ("CALL_INSTANTIATE_FAILED", 422, "the message names the missing import or export; build the guest for wasm32-wasip1 as a command"),
    /// The call's environment (its own variables with the workbook's defaults) breaks a bound.
    CallEnvInvalid = ("CALL_ENV_INVALID", 400, "the message names the variable; names are letters, digits and _, at most 64 variables, 4 KiB per value, 32 KiB in all (docs/guide.md, Environment)"),
    /// The sandbox's volume has no file at this path.
    SandboxFileNotFound = ("SANDBOX_FILE_NOT_FOUND", 404, "paths are relative to the volume (`render/frame.png`, not `/workspace/render/frame.png`); the volume is workspace, memory or tmp"),
    /// A command grew a volume past its profile's quota; none of its file changes were kept.
    CallVolumeFull = ("CALL_VOLUME_FULL", 422, "remove files from the volume, or dock with a profile with a larger volume_mib (docs/guide.md, Files)"),
    /// A command left a file its volume cannot store (a link, a non-UTF-8 name, more than 100,000 files); none of its file changes were kept.
    CallVolumeUnstorable = ("CALL_VOLUME_UNSTORABLE", 422, "the message names the path; volumes keep regular files with UTF-8 paths up to 4096 bytes (docs/guest-abi.md, Files)"),
    /// The guest's HTTP handler returned bytes that are not an HTTP response.
    CallBadResponse = ("CALL_BAD_RESPONSE", 502, "the handler must return an encoded response (docs/guest-abi.md, HTTP messages); the nexus-guest `http` module does this"),

    // --- the fabric --------------------------------------------------------
    /// No fabric job with this id on this node for this tenant (jobs live on the node that accepted them; the oldest finished ones are forgotten past 64).
    FabricJobNotFound = ("FABRIC_JOB_NOT_FOUND", 404, "list jobs with `nexus fabric ls` against the node that accepted the job"),
    /// The node already runs as many fabric jobs as it allows (8).
    FabricBusy = ("FABRIC_BUSY", 503, "retry after the Retry-After seconds, or cancel a job with `nexus fabric cancel`"),
    /// The job asked for the `container` tier and this node cannot run containers.
    FabricTierUnavailable = ("FABRIC_TIER_UNAVAILABLE", 503, "start the Docker daemon on the node (`docker version` must reach it), or use --tier process for a fresh instance per input"),
    // --- requests and the node -------------------------------------------
    /// The profile named at dock (`?profile=` or the workbook's) is not one this node knows.
    ProfileUnknown = ("PROFILE_UNKNOWN", 400, "use a built-in profile (docs/guide.md, Profiles) or one defined under [profiles] in nexus.toml"),
    /// A schedule of the workbook has an invalid cron or names a module the workbook lacks.
    ScheduleInvalid = ("SCHEDULE_INVALID", 400, "fix the schedule's cron or module in workbook.toml and pack the workbook again"),
    /// The request body or parameters are malformed.
    RequestInvalid = ("REQUEST_INVALID", 400, "the message names the field; docs/http-api.md has the request shapes"),
    /// The request body exceeds the node's upload limit.
    RequestTooLarge = ("REQUEST_TOO_LARGE", 413, "raise `limits.max_request_bytes` in nexus.toml (NEXUS_MAX_REQUEST_BYTES) or send a smaller request body"),
    /// The workbook upload exceeds the node's upload limit.
    UploadTooLarge = ("UPLOAD_TOO_LARGE", 413, "raise `limits.max_upload_bytes` in nexus.toml (NEXUS_MAX_UPLOAD_BYTES) or send a smaller workbook"),
    /// The node (or the tenant) already has as many uploads in flight as allowed.
    UploadsBusy = ("UPLOADS_BUSY", 503, "retry after the Retry-After seconds; `limits.max_concurrent_uploads` and `max_concurrent_uploads_per_tenant` bound them"),
    /// The request line is not HTTP (garbage, a NUL or control byte in the path...).
    RequestMalformed = ("REQUEST_MALFORMED", 400, "send an HTTP/1.1 request; the path must be printable ASCII (percent-encode the rest)"),
    /// The request target is longer than the node accepts.
    RequestUriTooLong = ("REQUEST_URI_TOO_LONG", 414, "shorten the path and query (at most 8 KiB)"),
    /// The request's headers are larger than the node accepts.
    RequestHeadersTooLarge = ("REQUEST_HEADERS_TOO_LARGE", 431, "send fewer or smaller headers (`limits.max_header_bytes`, 64 KiB by default)"),
    /// The client did not send the request's headers in time.
    RequestHeaderTimeout = ("REQUEST_HEADER_TIMEOUT", 408, "send the whole request head within `limits.header_read_timeout_ms`"),
    /// The client paused sending the request body for too long.
    RequestBodyTimeout = ("REQUEST_BODY_TIMEOUT", 408, "keep the body flowing: the node waits at most `limits.body_read_timeout_ms` for the next bytes"),
    /// The client address already holds as many connections as allowed.
    TooManyConnections = ("TOO_MANY_CONNECTIONS", 429, "close idle connections or reuse one; `limits.max_connections_per_ip` bounds them"),
    /// Too many requests with an unknown API key came from this address.
    AuthRateLimited = ("AUTH_RATE_LIMITED", 429, "check the API key, then retry after the Retry-After seconds"),
    /// The route does not exist.
    RouteNotFound = ("ROUTE_NOT_FOUND", 404, "docs/http-api.md lists the routes"),
    /// The route exists but not with this HTTP method.
    MethodNotAllowed = ("METHOD_NOT_ALLOWED", 405, "docs/http-api.md lists the methods of each route"),
    /// The node is shutting down and takes no new calls.
    NodeShuttingDown = ("NODE_SHUTTING_DOWN", 503, "retry against another node or after the restart"),
    /// The CLI could not reach the node.
    NodeUnreachable = ("NODE_UNREACHABLE", 503, "start a node with `nexus up`, or point --node / NEXUS_NODE at a running one"),
    /// nexus.toml or a NEXUS_* variable is invalid.
    ConfigInvalid = ("CONFIG_INVALID", 400, "fix the named setting in nexus.toml or the environment"),
    /// The node could not bind its listen address.
    NodeBindFailed = ("NODE_BIND_FAILED", 500, "another process holds the port; stop it or set `listen` / NEXUS_LISTEN"),
    /// Another node process already uses this data dir.
    DataDirLocked = ("DATA_DIR_LOCKED", 409, "stop the other node, or use another data dir (NEXUS_DATA_DIR)"),
    /// The configuration asks for a plain-HTTP API on an address other machines can reach.
    ApiPlaintextRefused = ("API_PLAINTEXT_REFUSED", 400, "serve HTTPS (remove `[api] tls = false`), listen on a loopback address, or set `[api] insecure_plaintext = true` on a network you trust"),
    /// The API's certificate or key (`[api] cert` / `key`) cannot be read or used.
    ApiCertInvalid = ("API_CERT_INVALID", 500, "the message names the file; `[api] cert` must be a PEM certificate chain and `[api] key` its PEM private key"),
    /// The API's certificate does not name the address the API listens on.
    ApiCertMismatch = ("API_CERT_MISMATCH", 500, "set `listen` to an address the certificate names, or set `[api] cert` and `key` to a certificate for the addresses clients use"),
    /// A plain-HTTP request reached an API that serves HTTPS.
    ApiTlsRequired = ("API_TLS_REQUIRED", 400, "use https:// and trust the cluster CA: `nexus --config NODE.toml ...`, `nexus --ca DATA_DIR/tls/ca.pem ...` or `curl --cacert DATA_DIR/tls/ca.pem ...`"),
    /// The CLI could not verify the node's HTTPS certificate.
    NodeTlsUntrusted = ("NODE_TLS_UNTRUSTED", 503, "trust the cluster CA: pass --ca DATA_DIR/tls/ca.pem (any node's data dir) or --config with the node's nexus.toml"),
    // --- the cluster ----------------------------------------------------
    /// No leader committed the write (or confirmed a fresh read) in time.
    ClusterNoLeader = ("CLUSTER_NO_LEADER", 503, "a majority of the cluster's nodes must be up and reachable; `nexus status` shows the leader and members"),
    /// Raft stopped on this node (storage failure or shutdown).
    ClusterStopped = ("CLUSTER_STOPPED", 503, "the node log says why; restart the node"),
    /// The node has peers configured but no certificate of its cluster.
    ClusterIdentityMissing = ("CLUSTER_IDENTITY_MISSING", 500, "put this node's node.pem, node.key and ca.pem in {data_dir}/tls (docs/operations.md), or join with a token"),
    /// The node's certificate, key or CA cannot be used.
    ClusterIdentityInvalid = ("CLUSTER_IDENTITY_INVALID", 500, "the message names the file; restore it or issue this node a new certificate"),
    /// No join token with this id.
    JoinTokenNotFound = ("JOIN_TOKEN_NOT_FOUND", 404, "list tokens with `nexus token ls`"),
    /// The join token's lifetime is over.
    JoinTokenExpired = ("JOIN_TOKEN_EXPIRED", 403, "make a new token with `nexus token create` on a cluster node"),
    /// Every use of the join token is spent.
    JoinTokenUsedUp = ("JOIN_TOKEN_USED_UP", 403, "make a new token with `nexus token create --uses N`"),
    /// The join token was revoked.
    JoinTokenRevoked = ("JOIN_TOKEN_REVOKED", 403, "ask the cluster's operator for a new token"),
    /// The join token's secret is wrong.
    JoinTokenInvalid = ("JOIN_TOKEN_INVALID", 403, "copy the whole token string as `nexus token create` printed it"),
    /// The token given to `nexus join` is not a join token.
    JoinTokenMalformed = ("JOIN_TOKEN_MALFORMED", 400, "the token file (or NEXUS_JOIN_TOKEN) must hold the whole token as `nexus token create` printed it, or as {data_dir}/tls/join-token on the first node holds it: NXJ1.<ca-hash>.<id>.<secret>"),
    /// The node at --peer presents a CA other than the one the token pins; nothing was sent.
    JoinCaMismatch = ("JOIN_CA_MISMATCH", 403, "the token and --peer belong to different clusters: point --peer at a node of the token's cluster, or get a token from the cluster at --peer"),
    /// The node at --peer could not be reached.
    JoinPeerUnreachable = ("JOIN_PEER_UNREACHABLE", 503, "--peer must be a running node's Raft address ([cluster] raft_listen, HOST:PORT)"),
    /// The node at --peer answered, but not as a join endpoint.
    JoinPeerRefused = ("JOIN_PEER_REFUSED", 502, "--peer must be the Raft address of a Nexus node of this cluster; the message says what it answered"),
    /// The node that got the join holds no CA key and could reach no node that does; the message names the holders it tried.
    JoinCaUnavailable = ("JOIN_CA_UNAVAILABLE", 503, "start a node that holds the CA key (the CA column of `nexus node ls`), or make a running node one: `nexus ca export` from a holder's data dir, `nexus ca import` on the stopped node, then start it (docs/operations.md: CA backup and a second CA holder)"),
    /// The joiner's certificate request is not a valid signed CSR.
    JoinCsrInvalid = ("JOIN_CSR_INVALID", 400, "run `nexus join` from this build; it makes the key and CSR itself"),
    /// The joiner named no address the cluster could reach it at.
    JoinRequestInvalid = ("JOIN_REQUEST_INVALID", 400, "set [cluster] raft_listen (or advertise_raft) on the joining node to an address the cluster can reach"),
    /// `nexus join` was given the token as a command-line argument, where `ps` shows it to every user.
    JoinTokenOnCommandLine = ("JOIN_TOKEN_ON_COMMAND_LINE", 400, "pass the token with --token-file PATH, with --token-file - (read from stdin) or in NEXUS_JOIN_TOKEN; never as an argument"),
    /// `nexus join` got no token, or could not read the one it was pointed at.
    JoinTokenMissing = ("JOIN_TOKEN_MISSING", 400, "pass the token with --token-file PATH, with --token-file - (read from stdin) or in NEXUS_JOIN_TOKEN"),
    /// The joiner could not bind its API or peer address; the token was not used.
    JoinBindFailed = ("JOIN_BIND_FAILED", 500, "free the port or change `listen` / [cluster] raft_listen, then run `nexus join` again: the token is still unused"),
    /// The joiner's API address is not one the cluster can reach or put in its certificate.
    JoinApiAddressInvalid = ("JOIN_API_ADDRESS_INVALID", 400, "set `listen` (NEXUS_LISTEN) on the joining node to the IP address and port its clients and peers reach it at, not 0.0.0.0 or a host name"),
    /// Too many joins are waiting at this node, or one waited too long for its turn.
    JoinBusy = ("JOIN_BUSY", 503, "retry the join in a few seconds: joins are admitted one at a time"),
    /// The data dir already belongs to a node (of this or another cluster).
    JoinAlreadyMember = ("JOIN_ALREADY_MEMBER", 409, "start the node it holds with `nexus serve`, or join with an empty data dir (NEXUS_DATA_DIR)"),
    /// `nexus init` on a data dir that already holds a node.
    ClusterAlreadyInitialized = ("CLUSTER_ALREADY_INITIALIZED", 409, "start the node with `nexus serve`; to found another cluster, use an empty data dir"),
    /// The data dir holds a node certificate but neither the CA nor a join record: a join did not finish.
    ClusterJoinIncomplete = ("CLUSTER_JOIN_INCOMPLETE", 500, "the node refuses to run alone on it: move the data dir away and join again with a new token"),
    /// `nexus ca export` on a data dir without the cluster CA key.
    CaNotHeld = ("CA_NOT_HELD", 404, "run it with the --config of a node that holds the CA key: the CA column of `nexus node ls` names them"),
    /// `nexus ca export --out` names a file that exists.
    CaExportExists = ("CA_EXPORT_EXISTS", 409, "choose another --out path; an export is never overwritten"),
    /// The file given to `nexus ca import` is not a CA export, or its key does not belong to its certificate.
    CaImportInvalid = ("CA_IMPORT_INVALID", 400, "pass the file `nexus ca export` wrote, unchanged"),
    /// The CA in the file is not this node's cluster CA.
    CaImportForeign = ("CA_IMPORT_FOREIGN", 409, "export the CA from a node of this node's own cluster; the message names both fingerprints"),
    // --- the WireGuard mesh ----------------------------------------------
    /// `[mesh] enabled` is set but the node cannot create the mesh device: `/dev/net/tun` is missing or closed to it, or it lacks CAP_NET_ADMIN. The node runs without the mesh.
    MeshUnavailable = ("MESH_UNAVAILABLE", 503, "the message names what is missing: give the node CAP_NET_ADMIN (`setcap cap_net_admin+ep $(which nexus)`, or in Docker `--cap-add NET_ADMIN`) and /dev/net/tun (`--device /dev/net/tun`), then restart it (docs/operations.md: the mesh)"),
    /// The mesh device exists but configuring it failed (its UDP port, its address or route, or its UAPI socket).
    MeshDeviceFailed = ("MESH_DEVICE_FAILED", 500, "the message names the step; free [mesh] listen_port, check that no other interface has [mesh] interface's name, and see `wg show` for the device"),
    /// The mesh key file in the data dir, or a key in the registry, is not a WireGuard key.
    MeshKeyInvalid = ("MESH_KEY_INVALID", 500, "move the damaged {data_dir}/mesh.key away and restart the node: it makes a new key and records it"),
    /// The node's mesh settings cannot work: no endpoint peers can reach, or a prefix other than the cluster's.
    MeshConfigInvalid = ("MESH_CONFIG_INVALID", 400, "set [mesh] endpoint to the HOST:PORT peers reach this node's [mesh] listen_port at, and the same [mesh] cidr on every node of the cluster"),
    /// The mesh prefix has no address left to hand out (addresses are never reused).
    MeshAddressesExhausted = ("MESH_ADDRESSES_EXHAUSTED", 507, "addresses of removed nodes are not reused; a larger [mesh] cidr needs a new cluster, so size it for every node the cluster will ever admit"),
    /// `nexus net status` asked a node whose mesh is off (`[mesh] enabled = false`).
    MeshDisabled = ("MESH_DISABLED", 404, "set [mesh] enabled = true in the node's nexus.toml and restart it (docs/guide.md: the mesh)"),
    /// No node with this id in the membership or the registry.
    NodeNotFound = ("NODE_NOT_FOUND", 404, "list the nodes with `nexus node ls`"),
    /// A node was asked to remove itself.
    NodeRemoveSelf = ("NODE_REMOVE_SELF", 409, "send the removal to another node: `nexus --node http://OTHER-API node remove ID`"),
    /// Removing the node would leave the cluster without a voter.
    NodeLastVoter = ("NODE_LAST_VOTER", 409, "a cluster needs a voter; join another voter first"),
    /// A request forwarded to this node found its sandbox homed elsewhere (it moved while the request was in flight).
    SandboxOnOtherNode = ("SANDBOX_ON_OTHER_NODE", 409, "retry the request: the node it reaches forwards it to the sandbox's new home"),
    /// The sandbox's home node did not answer over the data plane (QUIC).
    SandboxHomeUnreachable = ("SANDBOX_HOME_UNREACHABLE", 503, "the home node may be down or its UDP port blocked; `nexus node ls` shows its health, and the sandbox answers again once its home is back"),
    /// The node a new sandbox was to be placed on did not answer over the data plane.
    PlacementNodeUnreachable = ("PLACEMENT_NODE_UNREACHABLE", 503, "dock without --on to let the cluster choose a reachable node, or check that node with `nexus node ls`"),
    /// A move names the node the sandbox already lives on, or a node without peers was asked to move one.
    SandboxMoveInvalid = ("SANDBOX_MOVE_INVALID", 409, "name another member as --to (`nexus node ls` lists them), or wait until the move under way ends"),
    /// A move failed at the step the message names; the sandbox stays on its home with its data.
    SandboxMoveFailed = ("SANDBOX_MOVE_FAILED", 503, "the sandbox keeps serving from its home; fix what the message names (target down, disk) and move it again"),
    /// The node to remove still homes sandboxes.
    NodeHomesSandboxes = ("NODE_HOMES_SANDBOXES", 409, "drain it first (`nexus node drain ID`), or `nexus node remove ID --force`, which drains it if it answers and otherwise loses its sandboxes"),
    /// The node is drained: it takes no new sandboxes.
    NodeDrained = ("NODE_DRAINED", 409, "pick another node, or take the node back with `nexus node undrain ID`"),
    /// The node did not answer over the data plane (QUIC), so it cannot be drained now.
    NodeUnavailable = ("NODE_UNAVAILABLE", 503, "start the node (or open its UDP port) and drain it again; `nexus node ls` shows its health"),
    /// A sandbox's replica set names its home, a node twice, a removed node, or too many nodes.
    ReplicaSetInvalid = ("REPLICA_SET_INVALID", 409, "a replica set holds up to 7 distinct members other than the home; `nexus node ls` lists them"),
    /// A dock asked for a replication factor or durability mode that does not exist.
    ReplicationInvalid = ("REPLICATION_INVALID", 400, "use a factor from 1 to 8 and a durability of `sync` or `async`"),
    /// No replica took a call's change and the sandbox's replica set could not be updated, so the response was held back.
    ReplicationUnavailable = ("REPLICATION_UNAVAILABLE", 503, "the change may be applied on the home; retry after the Retry-After seconds (calls that write fixed keys are safe to retry) and check the replica nodes with `nexus node ls`"),
    /// The sandbox's home lost contact with the cluster's majority and stopped answering for it.
    SandboxHomeFenced = ("SANDBOX_HOME_FENCED", 503, "retry after the Retry-After seconds: the cluster gives the sandbox a new home (one of its replicas), or this node regains its majority"),
    /// No member carries the labels a placement asked for (`--where`).
    PlacementNoMatch = ("PLACEMENT_NO_MATCH", 409, "`nexus node ls` shows each node's LABELS; set `[node] labels` in a node's nexus.toml and restart it, or ask for other labels"),
    /// Something failed inside the node; the message says what.
    Internal = ("INTERNAL", 500, "this is a bug or an environment problem (disk, permissions); the node log has details"),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Compares a code with a wire form (`code == "TENANT_EXISTS"`).
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An error as the user sees it on the wire and in the CLI. On the wire the
/// code is its string form; a code this build does not know (from a newer
/// node) reads as [`ErrorCode::Internal`] with the code kept in the message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, thiserror::Error)]
#[serde(from = "WireError")]
#[error("{code}: {message} (hint: {hint})")]
pub struct UserError {
    /// Stable code from the catalog.
    pub code: ErrorCode,
    /// What failed, naming the thing.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl UserError {
    /// Builds a user-facing error with the catalog's hint for `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        UserError {
            code,
            message: message.into(),
            hint: code.hint().to_string(),
        }
    }

    /// This error with a hint of its own instead of the catalog's.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    /// An error received as strings (from the API or a peer). A code not in
    /// this build's catalog becomes [`ErrorCode::Internal`], its message
    /// prefixed with the unknown code so nothing is lost.
    pub fn from_wire(code: &str, message: String, hint: String) -> Self {
        match ErrorCode::parse(code) {
            Some(code) => UserError {
                code,
                message,
                hint,
            },
            None => UserError {
                code: ErrorCode::Internal,
                message: format!("{code}: {message}"),
                hint,
            },
        }
    }

    /// The HTTP status for this error's code.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// Whether this error carries `code`.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == code
    }
}

/// The wire form of a [`UserError`], read before its code is checked.
#[derive(Deserialize)]
struct WireError {
    code: String,
    message: String,
    hint: String,
}

impl From<WireError> for UserError {
    fn from(wire: WireError) -> Self {
        UserError::from_wire(&wire.code, wire.message, wire.hint)
    }
}

/// Implemented by every library error that can reach a user.
pub trait Coded: std::fmt::Display {
    /// The catalog code for this error.
    fn code(&self) -> ErrorCode;

    /// The user-facing form of this error.
    fn to_user_error(&self) -> UserError {
        UserError::new(self.code(), self.to_string())
    }
}

/// An error and every error beneath it, `: `-separated on one line (the
/// reason often hides in a source: a TLS alert under an I/O error, a peer's
/// close reason under "connection lost").
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_is_the_code_string() {
        let err = UserError::new(ErrorCode::TenantExists, "tenant acme already exists");
        let json = serde_json::to_value(&err).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({
                "code": "TENANT_EXISTS",
                "message": "tenant acme already exists",
                "hint": ErrorCode::TenantExists.hint(),
            })
        );
        let back: UserError = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, err);
        assert_eq!(back.status(), 409);
        assert_eq!(
            err.to_string(),
            format!(
                "TENANT_EXISTS: tenant acme already exists (hint: {})",
                err.hint
            )
        );
    }

    #[test]
    fn every_code_round_trips() {
        for &code in ErrorCode::ALL {
            let err = UserError::new(code, "m");
            let back: UserError =
                serde_json::from_str(&serde_json::to_string(&err).expect("serialize"))
                    .expect("deserialize");
            assert_eq!(back.code, code);
        }
    }

    #[test]
    fn an_unknown_code_reads_as_internal_and_keeps_its_message() {
        let json =
            r#"{"code":"QUOTA_EXCEEDED","message":"too many sandboxes","hint":"remove one"}"#;
        let err: UserError = serde_json::from_str(json).expect("deserialize");
        assert_eq!(err.code, ErrorCode::Internal);
        assert_eq!(err.message, "QUOTA_EXCEEDED: too many sandboxes");
        assert_eq!(err.hint, "remove one");
        assert_eq!(err.status(), 500);
    }
}
