//! The `offboard` binary: the command line in `cli/`.

mod cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cli::main().await
}
