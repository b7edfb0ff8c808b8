//! Generates the tonic services of the node-to-node transport from Rust type
//! paths (no .proto files): messages are serde types encoded as MessagePack by
//! `crate::codec::MsgPackCodec`.

use tonic_build::manual::{Builder, Method, Service};

/// One unary method `name` (route `route`) taking `input` and returning `output`.
fn method(name: &str, route: &str, input: &str, output: &str) -> Method {
    Method::builder()
        .name(name)
        .route_name(route)
        .input_type(format!("crate::messages::{input}"))
        .output_type(format!("crate::messages::{output}"))
        .codec_path("crate::codec::MsgPackCodec")
        .build()
}

fn main() {
    let raft = Service::builder()
        .name("RaftService")
        .package("nexus.raft")
        .comment(
            "openraft's RPCs between the members of one cluster, and the leader watch's probe.",
        )
        .method(method("vote", "Vote", "VoteMsg", "VoteReply"))
        .method(method("append", "Append", "AppendMsg", "AppendReply"))
        .method(method(
            "snapshot",
            "Snapshot",
            "SnapshotMsg",
            "SnapshotReply",
        ))
        .method(method("probe", "Probe", "ProbeMsg", "ProbeReply"))
        .build();
    let peer = Service::builder()
        .name("PeerService")
        .package("nexus.peer")
        .comment(
            "Registry writes and read barriers forwarded to the leader, and joins forwarded to a CA holder.",
        )
        .method(method("write", "Write", "WriteMsg", "WriteReply"))
        .method(method(
            "read_index",
            "ReadIndex",
            "ReadIndexMsg",
            "ReadIndexReply",
        ))
        .method(method("admit_join", "AdmitJoin", "JoinMsg", "JoinReply"))
        .build();
    let join = Service::builder()
        .name("JoinService")
        .package("nexus.join")
        .comment("A new node's token and CSR, answered with its certificate.")
        .method(method("join", "Join", "JoinMsg", "JoinReply"))
        .build();
    Builder::new().compile(&[raft, peer, join]);
}
