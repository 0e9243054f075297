//! The `RedshiftData.*` operations: every call is recorded, scripted throttling applies, then
//! the operation validates its request like the real service and answers.
//!
//! ExecuteStatement and BatchExecuteStatement return the Id at once; the SQL runs on a task of
//! its own (`runner`). GetStatementResult answers every row on one page (no NextToken).

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Shared;
use super::faults::CallFault;
use super::parameters;
use super::protocol::{self, ApiError, CallRecord, IdRequest, SubmitRequest};
use super::runner::{self, Job};
use super::statements::{NewStatement, Status, Submission};

/// The most statements one BatchExecuteStatement may hold.
pub const MAX_BATCH_STATEMENTS: usize = 40;

/// The largest SQL statement the Data API takes: 100 KB ("Considerations when calling the
/// Amazon Redshift Data API").
pub const MAX_STATEMENT_BYTES: usize = 100 * 1024;

/// Refuses a statement over [`MAX_STATEMENT_BYTES`] as the real service does.
fn refuse_oversized(sqls: &[String]) -> Result<(), ApiError> {
    match sqls.iter().find(|sql| sql.len() > MAX_STATEMENT_BYTES) {
        Some(_) => Err(ApiError::validation("Cannot process query string larger than 100kB")),
        None => Ok(()),
    }
}

/// Answers one call of `operation` (the part of `X-Amz-Target` after `RedshiftData.`).
pub fn dispatch(shared: &Arc<Shared>, operation: &str, body: &[u8]) -> Result<Value, ApiError> {
    shared.calls.lock().expect("calls lock").push(CallRecord::of(operation, body));
    match shared.faults().take_call_fault(operation) {
        Some(CallFault::Throttled) => return Err(ApiError::throttled(operation)),
        Some(CallFault::TooManyActiveStatements) => return Err(ApiError::too_many_active_statements()),
        None => {}
    }
    match operation {
        "ExecuteStatement" => execute_statement(shared, parse(body)?),
        "BatchExecuteStatement" => batch_execute_statement(shared, parse(body)?),
        "DescribeStatement" => describe_statement(shared, &parse(body)?),
        "GetStatementResult" => get_statement_result(shared, &parse(body)?),
        "CancelStatement" => cancel_statement(shared, &parse(body)?),
        other => Err(ApiError::unknown_operation(&format!("RedshiftData.{other}"))),
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::malformed(format!("The request body is not valid: {e}")))
}

fn execute_statement(shared: &Arc<Shared>, request: SubmitRequest) -> Result<Value, ApiError> {
    request.refuse_unsupported()?;
    request.connection.validate()?;
    let sql = request
        .sql
        .clone()
        .filter(|sql| !sql.trim().is_empty())
        .ok_or_else(|| ApiError::validation("Sql is required."))?;
    refuse_oversized(std::slice::from_ref(&sql))?;
    let sqls = parameters::bind(vec![sql], request.parameters.as_ref())?;
    submit(shared, sqls, false, request)
}

fn batch_execute_statement(shared: &Arc<Shared>, request: SubmitRequest) -> Result<Value, ApiError> {
    request.refuse_unsupported()?;
    request.connection.validate()?;
    let sqls = request.sqls.clone().unwrap_or_default();
    if sqls.is_empty() || sqls.len() > MAX_BATCH_STATEMENTS {
        return Err(ApiError::validation(format!(
            "Sqls holds {} statements; it must hold 1 to {MAX_BATCH_STATEMENTS}.",
            sqls.len()
        )));
    }
    if sqls.iter().any(|sql| sql.trim().is_empty()) {
        return Err(ApiError::validation("Sqls holds an empty statement."));
    }
    refuse_oversized(&sqls)?;
    let sqls = parameters::bind(sqls, request.parameters.as_ref())?;
    submit(shared, sqls, true, request)
}

/// Registers the statement, starts it (unless its ClientToken was seen), answers its Id.
fn submit(
    shared: &Arc<Shared>,
    sqls: Vec<String>,
    is_batch: bool,
    request: SubmitRequest,
) -> Result<Value, ApiError> {
    let new = NewStatement {
        sqls: sqls.clone(),
        is_batch,
        connection: request.connection,
        client_token: request.client_token,
    };
    let submission = shared.registry().submit(new);
    let id = match submission {
        Submission::Repeat { id } => id,
        Submission::New { id, cancel } => {
            let job = Job { id: id.clone(), sqls, transactional: is_batch, cancel };
            let task = tokio::spawn(runner::run(shared.clone(), job));
            shared.tasks.lock().expect("tasks lock").push(task);
            id
        }
    };
    let registry = shared.registry();
    Ok(protocol::submitted(registry.get(&id).expect("the statement was just registered")))
}

fn required_id(request: &IdRequest) -> Result<&str, ApiError> {
    request.id.as_deref().ok_or_else(|| ApiError::validation("Id is required."))
}

fn describe_statement(shared: &Shared, request: &IdRequest) -> Result<Value, ApiError> {
    let registry = shared.registry();
    match registry.lookup(required_id(request)?)? {
        (statement, None) => Ok(protocol::describe(statement)),
        (statement, Some(index)) => Ok(protocol::describe_sub(statement, index, &statement.subs[index])),
    }
}

fn get_statement_result(shared: &Shared, request: &IdRequest) -> Result<Value, ApiError> {
    if request.next_token.is_some() {
        return Err(ApiError::validation(
            "NextToken is invalid: the stand-in answers every row on one page.",
        ));
    }
    let id = required_id(request)?;
    let registry = shared.registry();
    let sub = match registry.lookup(id)? {
        (statement, Some(index)) => &statement.subs[index],
        (statement, None) if !statement.is_batch => &statement.subs[0],
        (_, None) => {
            return Err(ApiError::validation(format!(
                "Query {id} is a batch: ask for one of its sub-statements ({id}:<n>)."
            )));
        }
    };
    if sub.status != Status::Finished {
        return Err(ApiError::validation(format!(
            "Query {id} has not finished (status {}): no result yet.",
            sub.status.wire_name()
        )));
    }
    match sub.outcome.as_ref().and_then(|o| o.result_set.as_ref()) {
        Some(result_set) => Ok(result_set.to_wire()),
        None => Err(ApiError::validation(format!(
            "Query {id} does not have result. Please check query status with DescribeStatement."
        ))),
    }
}

fn cancel_statement(shared: &Shared, request: &IdRequest) -> Result<Value, ApiError> {
    shared.registry().request_cancel(required_id(request)?)?;
    Ok(json!({"Status": true}))
}
