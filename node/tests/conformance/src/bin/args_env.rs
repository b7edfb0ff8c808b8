//! args and environ: the call's arguments in order, its environment and
//! nothing of the host's.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("args: {}", args.join("|"));
    let mut env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    env.sort();
    for var in env {
        println!("env: {var}");
    }
}
