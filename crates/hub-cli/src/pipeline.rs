//! `hub pipeline ...`: pipelines and their stages.

use clap::Subcommand;
use hub_core::pipelines::{self, Pipeline, Stage, StageInput, StageKind};
use hub_core::Store;

use crate::output;

#[derive(Subcommand)]
pub enum PipelineCommand {
    /// List pipelines with their stages (the default "Sales" pipeline is made on first use)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a pipeline: `hub pipeline add Partners --stage Intro:20 --stage Pilot:50:open:14 --stage Signed:100:won`
    Add {
        name: String,
        /// NAME:PROBABILITY[:KIND[:ROT_DAYS]], in order; probability in percent 0-100,
        /// kind open (default), won or lost. Repeatable, at least one.
        #[arg(long = "stage", value_name = "SPEC", required = true)]
        stages: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Rename a pipeline
    Rename {
        pipeline: String,
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a pipeline that has no deals
    Delete { pipeline: String },
    /// Add a stage to a pipeline
    StageAdd {
        pipeline: String,
        #[command(flatten)]
        stage: StageArgs,
        /// Where: 0 = first; default last
        #[arg(long)]
        position: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Change a stage (all of name, probability, kind, rotting limit)
    StageEdit {
        /// Stage id, or name (with --pipeline when several pipelines have it)
        stage: String,
        #[arg(long = "in", value_name = "PIPELINE")]
        pipeline: Option<String>,
        #[command(flatten)]
        stage_args: StageArgs,
        #[arg(long)]
        json: bool,
    },
    /// Move a stage to another position (0 = first)
    StageMove {
        stage: String,
        position: usize,
        #[arg(long = "in", value_name = "PIPELINE")]
        pipeline: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a stage that has no deals
    StageDelete {
        stage: String,
        #[arg(long = "in", value_name = "PIPELINE")]
        pipeline: Option<String>,
    },
}

#[derive(clap::Args)]
pub struct StageArgs {
    #[arg(long)]
    name: String,
    /// Win probability in percent, 0-100 (default: 100 for won, else 0)
    #[arg(long, allow_hyphen_values = true)]
    probability: Option<String>,
    /// open, won or lost
    #[arg(long, default_value = "open")]
    kind: String,
    /// Days in the stage after which an open deal is flagged as rotting
    #[arg(long)]
    rot_days: Option<u32>,
}

impl StageArgs {
    fn input(self) -> anyhow::Result<StageInput> {
        Ok(StageInput {
            name: self.name,
            probability: self.probability,
            kind: StageKind::parse("kind", &self.kind)?,
            rot_days: self.rot_days,
        })
    }
}

/// `Lead:10`, `Won:100:won`, `Pilot:50:open:14`.
pub fn parse_stage_spec(index: usize, spec: &str) -> anyhow::Result<StageInput> {
    let parts: Vec<&str> = spec.split(':').map(str::trim).collect();
    let field = format!("stages[{index}]");
    let bad = || {
        hub_core::Error::invalid(
            field.clone(),
            format!(
                "\"{spec}\" is not NAME:PROBABILITY[:KIND[:ROT_DAYS]], e.g. Lead:10 or Won:100:won"
            ),
        )
    };
    if parts.len() < 2 || parts.len() > 4 {
        return Err(bad().into());
    }
    let kind = match parts.get(2) {
        Some(k) if !k.is_empty() => StageKind::parse(&format!("{field}.kind"), k)?,
        _ => StageKind::Open,
    };
    let rot_days = match parts.get(3) {
        Some(d) if !d.is_empty() => Some(d.parse::<u32>().map_err(|_| {
            hub_core::Error::invalid(
                format!("{field}.rot_days"),
                format!("\"{d}\" is not a number of days"),
            )
        })?),
        _ => None,
    };
    Ok(StageInput {
        name: parts[0].to_owned(),
        probability: Some(parts[1].to_owned()),
        kind,
        rot_days,
    })
}

async fn stage(store: &Store, pipeline: Option<String>, stage: &str) -> anyhow::Result<Stage> {
    let pipeline = match pipeline {
        Some(p) => Some(pipelines::find(store, &p).await?.id),
        None => None,
    };
    Ok(pipelines::find_stage(store, pipeline, stage).await?)
}

pub fn stage_line(s: &Stage) -> Vec<String> {
    vec![
        s.position.to_string(),
        s.name.clone(),
        format!("{}%", s.probability),
        s.kind.as_str().to_owned(),
        s.rot_days.map(|d| format!("{d} d")).unwrap_or_default(),
        s.id.to_string(),
    ]
}

fn describe(p: &Pipeline) -> String {
    format!(
        "{}  ({}, {} deals)\n{}",
        p.name,
        p.id,
        p.deal_count,
        output::table(
            &["#", "STAGE", "PROB", "KIND", "ROTS AFTER", "ID"],
            p.stages.iter().map(stage_line).collect()
        )
    )
}

pub async fn run(store: &Store, cmd: PipelineCommand) -> anyhow::Result<()> {
    match cmd {
        PipelineCommand::List { json } => {
            let all = pipelines::list(store).await?;
            output::print(json, &all, || {
                all.iter().map(describe).collect::<Vec<_>>().join("\n\n")
            })
        }
        PipelineCommand::Add { name, stages, json } => {
            let inputs = stages
                .iter()
                .enumerate()
                .map(|(i, s)| parse_stage_spec(i, s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let p = pipelines::create(store, &name, inputs).await?;
            output::print(json, &p, || p.id.to_string())
        }
        PipelineCommand::Rename {
            pipeline,
            name,
            json,
        } => {
            let id = pipelines::find(store, &pipeline).await?.id;
            let p = pipelines::rename(store, id, &name).await?;
            output::print(json, &p, || describe(&p))
        }
        PipelineCommand::Delete { pipeline } => {
            let p = pipelines::find(store, &pipeline).await?;
            pipelines::delete(store, p.id).await?;
            println!("Deleted pipeline {}.", p.name);
            Ok(())
        }
        PipelineCommand::StageAdd {
            pipeline,
            stage,
            position,
            json,
        } => {
            let id = pipelines::find(store, &pipeline).await?.id;
            let s = pipelines::add_stage(store, id, stage.input()?, position).await?;
            output::print(json, &s, || s.id.to_string())
        }
        PipelineCommand::StageEdit {
            stage: name,
            pipeline,
            stage_args,
            json,
        } => {
            let s = stage(store, pipeline, &name).await?;
            let s = pipelines::update_stage(store, s.id, stage_args.input()?).await?;
            output::print(json, &s, || {
                output::table(
                    &["#", "STAGE", "PROB", "KIND", "ROTS AFTER", "ID"],
                    vec![stage_line(&s)],
                )
            })
        }
        PipelineCommand::StageMove {
            stage: name,
            position,
            pipeline,
            json,
        } => {
            let s = stage(store, pipeline, &name).await?;
            let stages = pipelines::move_stage(store, s.id, position).await?;
            output::print(json, &stages, || {
                output::table(
                    &["#", "STAGE", "PROB", "KIND", "ROTS AFTER", "ID"],
                    stages.iter().map(stage_line).collect(),
                )
            })
        }
        PipelineCommand::StageDelete {
            stage: name,
            pipeline,
        } => {
            let s = stage(store, pipeline, &name).await?;
            pipelines::delete_stage(store, s.id).await?;
            println!("Deleted stage {}.", s.name);
            Ok(())
        }
    }
}
