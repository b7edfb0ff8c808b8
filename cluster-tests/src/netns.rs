//! Network namespaces for mesh tests: one namespace per node, each joined
//! to a bridge in a further namespace by a veth pair (the underlay), and
//! nothing else. Every name carries this run's suffix, and [`Underlay`]'s
//! `Drop` kills what runs in the namespaces and deletes them (and the
//! devices' UAPI sockets), also when a test fails.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The underlay prefix (inside the test's namespaces only).
pub const UNDERLAY: &str = "172.31.250";

/// Runs `program args` and returns its output (never fails itself).
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Runs `program args`, panicking with its stderr when it fails.
pub fn must(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `n` namespaces on one bridge, removed on drop.
pub struct Underlay {
    /// This run's suffix (in every name).
    pub suffix: String,
    /// The bridge's namespace.
    bridge: String,
    /// The nodes' namespaces, slot 1 first.
    nodes: Vec<String>,
    /// Interface names whose UAPI sockets to remove at the end.
    wireguard: Vec<String>,
}

impl Underlay {
    /// Makes the namespaces, the bridge and one veth pair per node; node
    /// slot `i`'s end is `eth0` at `{UNDERLAY}.{i}/24`.
    pub fn new(n: u8) -> Underlay {
        static RUN: AtomicU32 = AtomicU32::new(0);
        let suffix = format!(
            "{}{}",
            std::process::id() % 100_000,
            RUN.fetch_add(1, Ordering::SeqCst)
        );
        let underlay = Underlay {
            bridge: format!("nxbr-{suffix}"),
            nodes: (1..=n).map(|i| format!("nx{i}-{suffix}")).collect(),
            wireguard: Vec::new(),
            suffix,
        };
        must("ip", &["netns", "add", &underlay.bridge]);
        let bridge = underlay.bridge.clone();
        must(
            "ip",
            &["-n", &bridge, "link", "add", "br0", "type", "bridge"],
        );
        must("ip", &["-n", &bridge, "link", "set", "br0", "up"]);
        for i in 1..=n {
            let ns = underlay.ns(i).to_owned();
            must("ip", &["netns", "add", &ns]);
            let outer = format!("nxv{}-{i}", underlay.suffix);
            must(
                "ip",
                &[
                    "-n", &ns, "link", "add", "eth0", "type", "veth", "peer", "name", &outer,
                    "netns", &bridge,
                ],
            );
            must("ip", &["-n", &ns, "link", "set", "lo", "up"]);
            must(
                "ip",
                &[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{UNDERLAY}.{i}/24"),
                    "dev",
                    "eth0",
                ],
            );
            must("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
            must(
                "ip",
                &["-n", &bridge, "link", "set", &outer, "master", "br0"],
            );
            must("ip", &["-n", &bridge, "link", "set", &outer, "up"]);
        }
        underlay
    }

    /// Node slot `slot`'s namespace.
    pub fn ns(&self, slot: u8) -> &str {
        &self.nodes[usize::from(slot) - 1]
    }

    /// A WireGuard interface name for node slot `slot`, unique on the
    /// machine (UAPI sockets live in one directory for every namespace);
    /// its socket is removed on drop.
    pub fn wireguard_name(&mut self, slot: u8) -> String {
        let name = format!("nxw{}-{slot}", self.suffix);
        self.wireguard.push(name.clone());
        name
    }

    /// Gives node slot `slot`'s underlay link the address
    /// `{UNDERLAY}.{host}/24` instead of its current one.
    pub fn readdress(&self, slot: u8, host: u8) {
        let ns = self.ns(slot);
        must("ip", &["-n", ns, "addr", "flush", "dev", "eth0"]);
        must(
            "ip",
            &[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{UNDERLAY}.{host}/24"),
                "dev",
                "eth0",
            ],
        );
    }

    /// Runs `program args` inside node slot `slot`'s namespace.
    pub fn exec(&self, slot: u8, program: &str, args: &[&str]) -> Output {
        let mut all = vec!["netns", "exec", self.ns(slot), program];
        all.extend_from_slice(args);
        run("ip", &all)
    }
}

impl Drop for Underlay {
    fn drop(&mut self) {
        for ns in self.nodes.iter().chain([&self.bridge]) {
            for signal in ["-TERM", "-KILL"] {
                let pids = run("ip", &["netns", "pids", ns]);
                for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
                    let _ = run("kill", &[signal, pid]);
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            let _ = run("ip", &["netns", "del", ns]);
        }
        for name in &self.wireguard {
            let _ = std::fs::remove_file(format!("/var/run/wireguard/{name}.sock"));
        }
    }
}
