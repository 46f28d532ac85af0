//! The `chunkworks` command line. Parses arguments, builds the [`App`], runs it; no logic.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use chunkworks::app::App;
use chunkworks::jobs::{self, scrub::ScrubJob, scrub::ScrubOptions};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

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
    /// Verify every shard of every object (header and keyed block checksums) and rebuild
    /// missing or corrupt shards. Resumes an interrupted pass. Exit code 0: every object has
    /// all its shards healthy (after repair); 2: some object is at risk; 1: the scrub could not
    /// run. Run with the server stopped (or rely on the server's background scrub).
    Scrub {
        #[command(flatten)]
        common: CommonArgs,
        /// Read at most this many MB (10^6 bytes) per second; unlimited by default.
        #[arg(long)]
        rate_mb_s: Option<f64>,
        /// Only report; rebuild nothing.
        #[arg(long)]
        no_repair: bool,
        /// Stop after this many objects (progress is saved; the next run continues).
        #[arg(long)]
        max_objects: Option<u64>,
    },
    /// The scrub walk with immediate repair and no rate limit by default: restores every
    /// missing or corrupt shard (e.g. after a location was lost and replaced). Exit codes as
    /// for scrub.
    Heal {
        #[command(flatten)]
        common: CommonArgs,
        /// Read at most this many MB per second; unlimited by default.
        #[arg(long)]
        rate_mb_s: Option<f64>,
        /// Stop after this many objects (progress is saved; the next run continues).
        #[arg(long)]
        max_objects: Option<u64>,
    },
    /// Garbage collection: expired multipart uploads, the orphan queue, unreferenced shard
    /// files and stale manifest copies older than the grace period. Exit code 0: done; 2: some
    /// deletions failed (retried next run); 1: could not run.
    Gc {
        #[command(flatten)]
        common: CommonArgs,
        /// Keep unreferenced files younger than this (default: jobs.gc_grace_secs, 24 h).
        #[arg(long)]
        grace_secs: Option<u64>,
    },
    /// Rebuild the metadata index (buckets and objects) from the sealed manifest copies in one
    /// location, after DATA_DIR/meta.sqlite was lost. Refuses when meta.sqlite exists unless
    /// --force (which moves it aside). Exit code 0: done; 2: some copies were unreadable.
    RecoverIndex {
        #[command(flatten)]
        common: CommonArgs,
        /// Location to read manifest copies from (default: the first that has any).
        #[arg(long)]
        from: Option<String>,
        /// Move an existing meta.sqlite aside (meta.sqlite.<ms>.bak) and rebuild anyway.
        #[arg(long)]
        force: bool,
    },
}

/// The data dir and config of `serve`, shared by every offline job.
#[derive(clap::Args)]
struct CommonArgs {
    /// Directory for metadata, keys and (by default) the three local locations.
    #[arg(long, default_value = "./data", env = "CHUNKWORKS_DATA_DIR")]
    data_dir: PathBuf,
    /// TOML config file; see config/.
    #[arg(long, env = "CHUNKWORKS_CONFIG")]
    config: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("chunkworks: {e:#}");
            std::process::ExitCode::from(jobs::EXIT_FAILED as u8)
        }
    }
}

fn run() -> anyhow::Result<i32> {
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
        } => serve(data_dir, listen, config).map(|()| jobs::EXIT_OK),
        Command::Scrub {
            common,
            rate_mb_s,
            no_repair,
            max_objects,
        } => scrub(common, ScrubJob::Scrub, rate_mb_s, !no_repair, max_objects),
        Command::Heal {
            common,
            rate_mb_s,
            max_objects,
        } => scrub(common, ScrubJob::Heal, rate_mb_s, true, max_objects),
        Command::Gc { common, grace_secs } => offline(&common, false, |app| async move {
            let env = app.job_env();
            let mut options = jobs::gc::GcOptions::from_config(&env.config, stop_on_signal());
            if let Some(g) = grace_secs {
                options.grace = std::time::Duration::from_secs(g);
            }
            let summary = jobs::gc::run(&env, &options).await?;
            println!("{}", summary.text());
            Ok(summary.exit_code())
        }),
        Command::RecoverIndex {
            common,
            from,
            force,
        } => {
            if let Some(aside) = jobs::recover::prepare_data_dir(&common.data_dir, force)? {
                eprintln!("moved the existing index aside to {}", aside.display());
            }
            offline(&common, true, |app| async move {
                let summary = jobs::recover::run(&app.job_env(), from.as_deref()).await?;
                println!("{}", summary.text());
                Ok(summary.exit_code())
            })
        }
    }
}

/// Opens the data dir without binding a port and runs `job` on a fresh runtime. Every job but
/// recover-index needs an existing metadata index.
fn offline<F, Fut>(common: &CommonArgs, creates_index: bool, job: F) -> anyhow::Result<i32>
where
    F: FnOnce(App) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<i32>>,
{
    let db = common.data_dir.join(chunkworks::app::META_FILE);
    if !creates_index && !db.exists() {
        anyhow::bail!(
            "{} does not exist: is --data-dir right? (a lost index is rebuilt with recover-index)",
            db.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = App::open_offline(&common.data_dir, common.config.as_deref())
            .context("opening the data dir")?;
        job(app).await
    })
}

fn scrub(
    common: CommonArgs,
    job: ScrubJob,
    rate_mb_s: Option<f64>,
    repair: bool,
    max_objects: Option<u64>,
) -> anyhow::Result<i32> {
    if rate_mb_s.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        anyhow::bail!("--rate-mb-s must be a positive number");
    }
    offline(&common, false, |app| async move {
        let options = ScrubOptions {
            job,
            repair,
            rate_bytes_per_sec: rate_mb_s.map(|r| r * 1e6),
            max_objects,
            interactive: true,
            stop: stop_on_signal(),
        };
        let summary = jobs::scrub::run(&app.job_env(), &options).await?;
        println!("{}", summary.text());
        Ok(summary.exit_code())
    })
}

/// A token cancelled on Ctrl-C or SIGTERM: the job saves its progress and stops.
fn stop_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        t.cancel();
    });
    token
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
