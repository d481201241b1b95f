//! `deploy`: deploys the Assay contracts and writes the deployment manifest; `deploy fund` tops
//! up local accounts. See `deploy --help`.

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use assay_chain::key::{KeySource, Password};
use assay_deploy::{Config, Funding, ModelArg, Params, WasmSource, params::parse_amount};
use assay_protocol::deployment::Deployment;
use clap::{Args, Parser, Subcommand};
use eyre::{WrapErr, bail, eyre};
use serde::Deserialize;

const ABOUT: &str =
    "Deploy the Assay contracts to an Arbitrum chain and write the deployment manifest";

const LONG_ABOUT: &str = "\
Deploy the Assay contracts to an Arbitrum chain (the project's test node, Nitro's dev node, Arbitrum \
Sepolia or One) and write the deployment manifest the coordinator and workers read.

Steps, each printed with its transaction hashes:
  1. connect, print the chain id, check the deployer has ETH and that an existing deployment file (--deployment)
     is for the same chain;
  2. get the contracts' wasm: build it with the contracts workspace's pinned toolchain
     (`cargo build --release --target wasm32-unknown-unknown` in --contracts-dir), or read it from
     --wasm-dir; process it as cargo-stylus does (including the pinned wasm-opt recipe of
     contracts/Stylus.toml: Binaryen's wasm-opt must be on PATH) and check every size before
     sending anything (`deploy size` prints them without a chain);
  3. deploy each contract through the StylusDeployer, which activates it (paying the ArbWasm data
     fee) and runs its constructor in one transaction; a program over one contract's 24 KiB code
     limit goes out as fragments plus a root program, one over the 128 KiB wasm limit is refused;
  4. wire them: the job market becomes the token's minter and a staking controller, Sampling a
     staking controller and the market's pair, and the deployer Sampling's dispute resolver
     (a bootstrap until the on-chain dispute game; only while none is set);
  5. apply the protocol parameters (--params, default: the built-in deploy/params.toml, which
     documents every value and the honesty condition p*(1-r^n)*(R_A+S) > C);
  6. register the models given with --model NAME=DIR (model id from the directory, engine hash of
     this build's engine, price from the parameter file);
  7. write the manifest (chain id, deploy block, addresses, models).

Idempotent: with an existing manifest every contract that still has code is kept, and each
configuration step reads the chain first, so a second run sends no transaction.

Settings come from flags, then environment variables, then the --config TOML file (keys named like
the long flags with underscores: rpc_url, key_file, keystore, password_file, wasm_dir,
contracts_dir, params, deployment (or out), chain_id, skip = [..], stylus_deployer, and a [models] table of
NAME = DIR; relative paths are relative to the config file).

The deployer key: --private-key / ASSAY_DEPLOYER_PRIVATE_KEY (hex), --key-file (a file holding the
hex), or --keystore with --password-file (Web3 secret storage JSON). On the test node and Nitro's
dev node the dev account's key is
0xb6b15c8cb491557369f3c7d2c287b053eb229daa9c22138887752191c9520659.

Example (test node on 127.0.0.1:8547):
  deploy --key-file dev.key --model smollm2=.models/smollm2-engine --deployment deployment.json
  deploy fund --key-file dev.key --deployment deployment.json --to 0xabc.. --to 0xdef.. --eth 1 --assay 10000";

#[derive(Parser, Debug)]
#[command(name = "deploy", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    deploy: DeployArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Top up accounts with ETH and bootstrap ASSAY (minted by the deployer, the token's owner)
    /// so they can stake, e.g. a local network's miners. Only the missing amount is sent.
    Fund(FundArgs),
    /// Print each contract's on-chain size (the wasm as built, after the pinned wasm-opt recipe,
    /// brotli-compressed code and fragments) against the Stylus limits; no chain needed.
    Size(SizeArgs),
}

#[derive(Args, Debug)]
struct ConnArgs {
    /// JSON-RPC endpoint [default: http://127.0.0.1:8547]
    #[arg(long, env = "ETH_RPC_URL", global = true)]
    rpc_url: Option<String>,
    /// Deployer private key, hex (prefer --key-file or --keystore: flags show up in `ps`)
    #[arg(long, env = "ASSAY_DEPLOYER_PRIVATE_KEY", hide_env_values = true, global = true)]
    private_key: Option<String>,
    /// File holding the deployer's hex private key
    #[arg(long, env = "ASSAY_DEPLOYER_KEY_FILE", global = true)]
    key_file: Option<PathBuf>,
    /// Keystore (Web3 secret storage JSON) with the deployer's key
    #[arg(long, env = "ASSAY_DEPLOYER_KEYSTORE", global = true)]
    keystore: Option<PathBuf>,
    /// File holding the keystore's password
    #[arg(long, env = "ASSAY_DEPLOYER_PASSWORD_FILE", global = true)]
    password_file: Option<PathBuf>,
    /// TOML file with defaults for any of these settings
    #[arg(long, env = "ASSAY_DEPLOY_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Refuse to run against any other chain id
    #[arg(long, global = true)]
    chain_id: Option<u64>,
    /// No progress output
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct DeployArgs {
    /// Take the built wasm (assay_token.wasm, ...) from this folder instead of building it
    #[arg(long, env = "ASSAY_WASM_DIR", global = true)]
    wasm_dir: Option<PathBuf>,
    /// The contracts workspace to build [default: ./contracts, else this repository's]
    #[arg(long, global = true)]
    contracts_dir: Option<PathBuf>,
    /// Protocol parameter file [default: the built-in deploy/params.toml]
    #[arg(long, env = "ASSAY_PARAMS")]
    params: Option<PathBuf>,
    /// A model to register: NAME=DIR, DIR an engine model directory (`worker convert` output)
    #[arg(long = "model", value_name = "NAME=DIR")]
    models: Vec<ModelArg>,
    /// Deployment file to read (when it exists) and write [default: deployment.json]; `--out`
    /// is an older name
    #[arg(long, alias = "out", env = "ASSAY_DEPLOYMENT")]
    deployment: Option<PathBuf>,
    /// Leave a contract out (manifest name, e.g. JobMarket); repeatable
    #[arg(long, value_name = "NAME")]
    skip: Vec<String>,
    /// StylusDeployer address [default: 0xcEcba2F1DC234f70Dd89F2041029807F8D03A990]
    #[arg(long)]
    stylus_deployer: Option<Address>,
}

#[derive(Args, Debug)]
struct FundArgs {
    /// Deployment file naming the token [default: deployment.json]; `--manifest` is an older
    /// name
    #[arg(long, alias = "manifest", env = "ASSAY_DEPLOYMENT")]
    deployment: Option<PathBuf>,
    /// Account to fund; repeatable
    #[arg(long = "to", value_name = "ADDRESS", required = true)]
    to: Vec<Address>,
    /// ETH each account should hold at least (a decimal in ether, or with a unit: "1 gwei")
    #[arg(long, default_value = "1")]
    eth: String,
    /// ASSAY each account should hold at least (a decimal in ASSAY)
    #[arg(long, default_value = "10000")]
    assay: String,
}

#[derive(Args, Debug)]
struct SizeArgs {
    /// Exit with an error when a contract cannot be deployed (over the 128 KiB wasm limit)
    #[arg(long)]
    check: bool,
}

/// The optional `--config` file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    rpc_url: Option<String>,
    private_key: Option<String>,
    key_file: Option<PathBuf>,
    keystore: Option<PathBuf>,
    password_file: Option<PathBuf>,
    chain_id: Option<u64>,
    wasm_dir: Option<PathBuf>,
    contracts_dir: Option<PathBuf>,
    params: Option<PathBuf>,
    #[serde(alias = "out")]
    deployment: Option<PathBuf>,
    #[serde(default)]
    skip: Vec<String>,
    stylus_deployer: Option<Address>,
    #[serde(default)]
    models: std::collections::BTreeMap<String, PathBuf>,
}

impl FileConfig {
    fn load(path: Option<&Path>) -> eyre::Result<(Self, PathBuf)> {
        let Some(path) = path else { return Ok((Self::default(), PathBuf::from("."))) };
        let text = std::fs::read_to_string(path)
            .wrap_err_with(|| format!("reading config {}", path.display()))?;
        let config: Self =
            toml::from_str(&text).wrap_err_with(|| format!("config {}", path.display()))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok((config, base))
    }
}

fn signer(conn: &ConnArgs, file: &FileConfig, base: &Path) -> eyre::Result<PrivateKeySigner> {
    let rel = |p: &PathBuf| base.join(p);
    let password = || -> eyre::Result<Password> {
        conn.password_file
            .clone()
            .or(file.password_file.as_ref().map(rel))
            .map(Password::File)
            .ok_or_else(|| eyre!("--keystore needs --password-file"))
    };
    let hex =
        |text: &String, origin: &str| KeySource::Hex { text: text.clone(), origin: origin.into() };
    let source = if let Some(text) = &conn.private_key {
        hex(text, "--private-key")
    } else if let Some(path) = &conn.key_file {
        KeySource::File(path.clone())
    } else if let Some(path) = &conn.keystore {
        KeySource::Keystore { path: path.clone(), password: password()? }
    } else if let Some(text) = &file.private_key {
        hex(text, "private_key in the config file")
    } else if let Some(path) = &file.key_file {
        KeySource::File(rel(path))
    } else if let Some(path) = &file.keystore {
        KeySource::Keystore { path: rel(path), password: password()? }
    } else {
        bail!(
            "no deployer key: pass --private-key (or ASSAY_DEPLOYER_PRIVATE_KEY), --key-file or --keystore"
        )
    };
    Ok(source.load().map_err(assay_deploy::Error::from)?.signer().clone())
}

fn amount(text: &str, default_unit: &str) -> eyre::Result<U256> {
    let text =
        if text.trim().contains(' ') { text.to_owned() } else { format!("{text} {default_unit}") };
    parse_amount(&text).map_err(|e| eyre!(e))
}

#[tokio::main]
async fn main() -> eyre::Result<()> {
    let cli = Cli::parse();
    let (file, base) = FileConfig::load(cli.conn.config.as_deref())?;
    let rel = |p: &PathBuf| base.join(p);
    let wasm = match cli.deploy.wasm_dir.clone().or_else(|| file.wasm_dir.as_ref().map(rel)) {
        Some(dir) => WasmSource::Dir(dir),
        None => WasmSource::Build {
            contracts_dir: cli
                .deploy
                .contracts_dir
                .clone()
                .or_else(|| file.contracts_dir.as_ref().map(rel))
                .unwrap_or_else(assay_deploy::default_contracts_dir),
        },
    };
    if let Some(Command::Size(args)) = &cli.command {
        let sizes = assay_deploy::sizes(&wasm)?;
        println!("{}", assay_deploy::ProgramSize::table(&sizes));
        if args.check {
            let over: Vec<&str> =
                sizes.iter().filter(|s| !s.deployable()).map(|s| s.contract).collect();
            if !over.is_empty() {
                bail!("too large to deploy: {}", over.join(", "));
            }
        }
        return Ok(());
    }
    let rpc_url = cli
        .conn
        .rpc_url
        .clone()
        .or_else(|| file.rpc_url.clone())
        .unwrap_or_else(|| "http://127.0.0.1:8547".into());
    let signer = signer(&cli.conn, &file, &base)?;
    let out = cli.deploy.deployment.clone().or_else(|| file.deployment.as_ref().map(rel));

    if let Some(Command::Fund(args)) = &cli.command {
        let path = args.deployment.clone().or(out).unwrap_or_else(|| "deployment.json".into());
        let manifest = Deployment::load(&path)?;
        let funding = Funding {
            accounts: args.to.clone(),
            eth: amount(&args.eth, "ether")?,
            assay: amount(&args.assay, "ASSAY")?,
        };
        let txs = assay_deploy::fund(&rpc_url, signer, &manifest, &funding, cli.conn.quiet).await?;
        if !cli.conn.quiet {
            eprintln!("{} transaction(s) sent", txs.len());
        }
        return Ok(());
    }

    let params = match cli.deploy.params.clone().or_else(|| file.params.as_ref().map(rel)) {
        Some(path) => Params::load(&path)?,
        None => Params::default_params(),
    };
    let mut models = cli.deploy.models.clone();
    for (name, dir) in &file.models {
        if !models.iter().any(|m| &m.name == name) {
            models.push(ModelArg { name: name.clone(), dir: rel(dir) });
        }
    }
    let mut skip = cli.deploy.skip.clone();
    skip.extend(file.skip.iter().cloned());
    let mut config = Config::new(rpc_url, signer);
    config.wasm = wasm;
    config.params = params;
    config.models = models;
    config.out = Some(out.unwrap_or_else(|| "deployment.json".into()));
    config.skip = skip;
    config.expected_chain_id = cli.conn.chain_id.or(file.chain_id);
    if let Some(deployer) = cli.deploy.stylus_deployer.or(file.stylus_deployer) {
        config.stylus_deployer = deployer;
    }
    config.quiet = cli.conn.quiet;
    let report = assay_deploy::run_with_report(&config).await?;
    if !config.quiet {
        for (name, reason) in &report.skipped {
            eprintln!("left out {name}: {reason}");
        }
        eprintln!(
            "done: {} contract(s) deployed, {} transaction(s) sent",
            report.deployed.len(),
            report.txs.len()
        );
    }
    println!("{}", serde_json::to_string_pretty(&report.manifest)?);
    Ok(())
}
