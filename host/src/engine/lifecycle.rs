//! The lifecycle of a workflow: create, edit, activate, pause, archive. The
//! one home of the rules (which status allows what, when step types are
//! pinned to plugin versions, when a cron schedule is armed), shared by the
//! API, the CLI and the web UI.
//!
//! - Versions are pinned at activation: unpinned step types resolve to the
//!   newest installed version then. Editing an ACTIVE workflow keeps the
//!   versions its types were pinned to, and pins only types it did not use.
//! - A cron schedule is armed at activation and when an edit changes the
//!   trigger of an ACTIVE workflow, from now on; pausing or archiving disarms
//!   it. Each fire bumps the version, so a change that read the workflow
//!   before a fire can never write the fired tick back.

use thiserror::Error;

use super::Engine;
use super::cron::Schedule;
use super::definition::{Trigger, WorkflowSpec};
use super::status::WorkflowStatus;
use super::validate::{self, ResolvedTypes, ValidationError};
use crate::store::ids::{new_id, now_ms};
use crate::store::workflows::{self, WorkflowRow};

/// Why a change to a workflow was refused.
#[derive(Debug, Error)]
pub enum LifecycleError {
    /// No such workflow.
    #[error("workflow `{0}` not found")]
    NotFound(String),
    /// The definition is not valid.
    #[error("invalid workflow definition: {}", list(.0))]
    Invalid(Vec<ValidationError>),
    /// The stored definition no longer validates (plugins changed since).
    #[error("the workflow is not valid: {}", list(.0))]
    NoLongerValid(Vec<ValidationError>),
    /// The workflow's status does not allow the change.
    #[error("{0}")]
    WrongState(String),
    /// The caller's version is not the stored one.
    #[error("workflow `{id}` is at version {}, not {expected}; read it again", current.version)]
    Stale {
        /// Workflow id.
        id: String,
        /// The version the caller had.
        expected: i64,
        /// The stored workflow.
        current: Box<WorkflowRow>,
    },
    /// Storage failed.
    #[error("storage error: {0}")]
    Store(#[from] sqlx::Error),
    /// A stored field does not decode.
    #[error("workflow `{0}` is corrupt: {1}")]
    Corrupt(String, String),
}

fn list(errors: &[ValidationError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// How often a change that lost a race with a cron fire (or another change)
/// is tried again on the fresh row when the caller named no version.
const ATTEMPTS: usize = 5;

impl Engine {
    /// Creates a DRAFT workflow.
    pub async fn create_workflow(&self, spec: &WorkflowSpec) -> Result<WorkflowRow, LifecycleError> {
        self.validate(spec).map_err(LifecycleError::Invalid)?;
        let now = now_ms() as i64;
        let mut row = WorkflowRow {
            id: new_id(),
            name: String::new(),
            description: None,
            trigger: String::new(),
            steps: String::new(),
            status: WorkflowStatus::Draft,
            created_at: now,
            updated_at: now,
            version: 1,
            event_type: None,
            resolved_types: None,
            cron_next_at: None,
            cron_error: None,
            limits: None,
            retention: None,
            timeout: None,
            concurrency: None,
            layout: None,
        };
        write_spec(&mut row, spec)?;
        workflows::insert(self.store.pool(), &row).await?;
        Ok(row)
    }

    /// Replaces the definition of a workflow that is not ARCHIVED. With
    /// `expected_version`, refuses when the stored version differs.
    pub async fn edit_workflow(
        &self,
        id: &str,
        spec: &WorkflowSpec,
        expected_version: Option<i64>,
    ) -> Result<WorkflowRow, LifecycleError> {
        self.change(id, expected_version, |engine, current| {
            if current.status == WorkflowStatus::Archived {
                return Err(LifecycleError::WrongState(format!(
                    "workflow `{}` is ARCHIVED and cannot be edited",
                    current.id
                )));
            }
            let pins: ResolvedTypes = match (current.status, &current.resolved_types) {
                (WorkflowStatus::Active, Some(text)) => {
                    serde_json::from_str(text).map_err(|e| corrupt(current, e))?
                }
                _ => ResolvedTypes::new(),
            };
            let resolved =
                validate::validate_pinned(spec, engine.runtime.registry(), engine.runtime.limits(), &pins)
                    .map_err(LifecycleError::Invalid)?;
            let old_trigger = current.trigger.clone();
            let mut row = current.clone();
            write_spec(&mut row, spec)?;
            if row.status == WorkflowStatus::Active {
                row.resolved_types = Some(encode(current, &resolved)?);
                if row.trigger != old_trigger {
                    arm(&mut row, &spec.trigger);
                }
            }
            Ok(row)
        })
        .await
    }

    /// Activates a DRAFT or PAUSED workflow (a no-op change for an ACTIVE
    /// one but for re-pinning): validates it again, pins its step types to
    /// the newest installed versions, arms its cron schedule.
    pub async fn activate_workflow(&self, id: &str) -> Result<WorkflowRow, LifecycleError> {
        self.change(id, None, |engine, current| {
            if current.status == WorkflowStatus::Archived {
                return Err(LifecycleError::WrongState(format!(
                    "workflow `{}` is ARCHIVED and cannot be activated",
                    current.id
                )));
            }
            let spec = read_spec(current)?;
            let resolved = engine.validate(&spec).map_err(LifecycleError::NoLongerValid)?;
            let mut row = current.clone();
            row.status = WorkflowStatus::Active;
            row.resolved_types = Some(encode(current, &resolved)?);
            if current.status != WorkflowStatus::Active || row.cron_next_at.is_none() {
                arm(&mut row, &spec.trigger);
            }
            Ok(row)
        })
        .await
    }

    /// Pauses an ACTIVE workflow (a PAUSED one stays as it is).
    pub async fn pause_workflow(&self, id: &str) -> Result<WorkflowRow, LifecycleError> {
        self.change(id, None, |_, current| match current.status {
            WorkflowStatus::Paused => Ok(current.clone()),
            WorkflowStatus::Active => {
                let mut row = current.clone();
                row.status = WorkflowStatus::Paused;
                row.cron_next_at = None;
                row.cron_error = None;
                Ok(row)
            }
            other => Err(LifecycleError::WrongState(format!(
                "workflow `{}` is {other}; only an ACTIVE workflow can be paused",
                current.id
            ))),
        })
        .await
    }

    /// Archives a workflow for good.
    pub async fn archive_workflow(&self, id: &str) -> Result<WorkflowRow, LifecycleError> {
        self.change(id, None, |_, current| {
            let mut row = current.clone();
            row.status = WorkflowStatus::Archived;
            row.cron_next_at = None;
            row.cron_error = None;
            Ok(row)
        })
        .await
    }

    /// Reads the workflow, applies `change` and writes the result if the
    /// version did not move meanwhile; without `expected`, tries again on the
    /// fresh row a few times. A change that returns the row unchanged writes
    /// nothing.
    async fn change(
        &self,
        id: &str,
        expected: Option<i64>,
        change: impl Fn(&Self, &WorkflowRow) -> Result<WorkflowRow, LifecycleError>,
    ) -> Result<WorkflowRow, LifecycleError> {
        for _ in 0..ATTEMPTS {
            let current = workflows::get(self.store.pool(), id)
                .await?
                .ok_or_else(|| LifecycleError::NotFound(id.to_owned()))?;
            if let Some(expected) = expected
                && expected != current.version
            {
                return Err(LifecycleError::Stale {
                    id: id.to_owned(),
                    expected,
                    current: Box::new(current),
                });
            }
            let mut row = change(self, &current)?;
            if row == current {
                return Ok(row);
            }
            row.version = current.version + 1;
            row.updated_at = now_ms() as i64;
            if workflows::update(self.store.pool(), &row, current.version).await? {
                if row.cron_next_at.is_some() {
                    // The scheduler sleeps until the earliest fire it knows of.
                    self.wake.notify_one();
                }
                return Ok(row);
            }
            if let Some(expected) = expected {
                let current = workflows::get(self.store.pool(), id)
                    .await?
                    .ok_or_else(|| LifecycleError::NotFound(id.to_owned()))?;
                return Err(LifecycleError::Stale {
                    id: id.to_owned(),
                    expected,
                    current: Box::new(current),
                });
            }
        }
        Err(LifecycleError::WrongState(format!(
            "workflow `{id}` kept changing while being updated; try again"
        )))
    }
}

/// The definition of a stored workflow.
pub fn read_spec(row: &WorkflowRow) -> Result<WorkflowSpec, LifecycleError> {
    Ok(WorkflowSpec {
        name: row.name.clone(),
        description: row.description.clone(),
        trigger: serde_json::from_str(&row.trigger).map_err(|e| corrupt(row, e))?,
        steps: serde_json::from_str(&row.steps).map_err(|e| corrupt(row, e))?,
        limits: row.limits.as_deref().map(serde_json::from_str).transpose().map_err(|e| corrupt(row, e))?,
        retention: row.retention.clone(),
        timeout: row.timeout.clone(),
        concurrency: row
            .concurrency
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt(row, e))?,
        layout: row.layout.as_deref().map(serde_json::from_str).transpose().map_err(|e| corrupt(row, e))?,
    })
}

fn write_spec(row: &mut WorkflowRow, spec: &WorkflowSpec) -> Result<(), LifecycleError> {
    row.name = spec.name.clone();
    row.description = spec.description.clone();
    row.trigger = encode(row, &spec.trigger)?;
    row.steps = encode(row, &spec.steps)?;
    row.event_type = spec.event_type().map(str::to_owned);
    row.limits = spec.limits.map(|l| encode(row, &l)).transpose()?;
    row.retention = spec.retention.clone();
    row.timeout = spec.timeout.clone();
    row.concurrency = spec.concurrency.as_ref().map(|c| encode(row, c)).transpose()?;
    // An edit without `layout` (a file applied from the CLI) keeps the
    // editor's node positions.
    if let Some(layout) = &spec.layout {
        row.layout = Some(encode(row, layout)?);
    }
    Ok(())
}

fn encode(row: &WorkflowRow, value: &impl serde::Serialize) -> Result<String, LifecycleError> {
    serde_json::to_string(value).map_err(|e| corrupt(row, e))
}

fn corrupt(row: &WorkflowRow, e: impl std::fmt::Display) -> LifecycleError {
    LifecycleError::Corrupt(row.id.clone(), e.to_string())
}

/// Arms the cron schedule of `trigger` from now (disarms other triggers); an
/// expression without a next fire is kept as the workflow's `cronError`.
fn arm(row: &mut WorkflowRow, trigger: &Trigger) {
    (row.cron_next_at, row.cron_error) = match trigger {
        Trigger::Cron(c) => match Schedule::parse(&c.expression, c.timezone.as_deref()) {
            Ok(schedule) => match schedule.next_after(now_ms()) {
                Some(next) => (Some(next as i64), None),
                None => (None, Some(format!("`{}` never fires again", c.expression))),
            },
            Err(e) => (None, Some(e.message)),
        },
        _ => (None, None),
    };
}
