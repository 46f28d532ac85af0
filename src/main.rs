//! The `chunkworks` command line. Parses arguments, builds the [`App`], runs it; no logic.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use chunkworks::app::App;
use clap::{Parser, Subcommand};

/// mimalloc reuses the pipeline's 4 MiB chunk buffers across threads without the page-fault
/// cost of fresh mmaps and without glibc's per-thread arena growth (see ARCHITECTURE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "chunkworks",
    version,
    about = "S3-compatible gateway: every object is chunked, encrypted per chunk (AES-256-GCM-SIV), \
             erasure-coded (Reed-Solomon) and spread over independent storage locations."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the S3 API.
    ///
    /// On first start, creates the master key (DATA_DIR/master.key) and an access key pair
    /// (DATA_DIR/credentials.toml), both mode 0600, and prints the pair once. The environment
    /// variables CHUNKWORKS_ACCESS_KEY and CHUNKWORKS_SECRET_KEY override the pair;
    /// CHUNKWORKS_MASTER_KEY (64 hex characters) overrides the master key file.
    Serve {
        /// Directory for metadata, keys and (by default) the three local locations.
        #[arg(long, default_value = "./data", env = "CHUNKWORKS_DATA_DIR")]
        data_dir: PathBuf,
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:9000", env = "CHUNKWORKS_LISTEN")]
        listen: SocketAddr,
        /// TOML config file (policy, locations, region, base domain); see config/.
        #[arg(long, env = "CHUNKWORKS_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHUNKWORKS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            data_dir,
            listen,
            config,
        } => serve(data_dir, listen, config),
    }
}

fn serve(data_dir: PathBuf, listen: SocketAddr, config: Option<PathBuf>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = App::open(&data_dir, config.as_deref()).context("starting the gateway")?;
        let access_key = app.credentials.access_key.clone();
        let secret_shown = app.credentials_created.then(|| app.credentials.secret_key.clone());
        let locations: Vec<String> =
            app.engine.locations().iter().map(|l| l.name().to_string()).collect();
        let policy = app.engine.policy();
        app.serve(
            listen,
            move |addr| {
                eprintln!("chunkworks listening on http://{addr}");
                eprintln!(
                    "  policy k={} m={} chunk={} B over locations {}",
                    policy.k,
                    policy.m,
                    policy.chunk_size,
                    locations.join(", ")
                );
                if let Some(secret) = secret_shown {
                    eprintln!("\nA new access key pair was created (shown once; stored in {}):", data_dir.join("credentials.toml").display());
                    eprintln!("  access key: {access_key}\n  secret key: {secret}\n");
                    eprintln!("Point aws-cli at it:");
                    eprintln!("  export AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret} AWS_DEFAULT_REGION=us-east-1");
                    eprintln!("  aws --endpoint-url http://{addr} s3 mb s3://my-bucket");
                }
            },
            shutdown_signal(),
        )
        .await?;
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends), so in-flight requests finish.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("chunkworks: shutting down");
}
