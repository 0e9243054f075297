//! The Data API's wire shapes (awsJson 1.1): request fields in PascalCase, answers built the
//! way aws-sdk-redshiftdata parses them (timestamps as epoch seconds, Duration in
//! nanoseconds), errors as `{"__type": "<Code>", "message": "…"}`.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::statements::{Statement, Sub};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "ValidationException", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "ResourceNotFoundException", message)
    }

    pub fn throttled(operation: &str) -> ApiError {
        ApiError::new(400, "ThrottlingException", format!("Rate exceeded for {operation} (scripted fault)"))
    }

    pub fn too_many_active_statements() -> ApiError {
        ApiError::new(
            400,
            "ActiveStatementsExceededException",
            "Active statements exceeded the allowed quota (scripted fault)",
        )
    }

    pub fn unknown_operation(target: &str) -> ApiError {
        ApiError::new(400, "UnknownOperationException", format!("Unknown operation {target}"))
    }

    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "SerializationException", message)
    }

    pub fn missing_authentication() -> ApiError {
        ApiError::new(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    }

    pub fn body(&self) -> Value {
        json!({"__type": self.code, "message": self.message})
    }
}

/// Where a statement runs and as whom.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Connection {
    pub workgroup_name: Option<String>,
    pub cluster_identifier: Option<String>,
    pub database: Option<String>,
    pub db_user: Option<String>,
    pub secret_arn: Option<String>,
}

impl Connection {
    /// The real service's rules for combining the connection fields.
    pub fn validate(&self) -> Result<(), ApiError> {
        match (&self.workgroup_name, &self.cluster_identifier) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation(
                    "ClusterIdentifier and WorkgroupName cannot both be specified.",
                ));
            }
            (None, None) => {
                return Err(ApiError::validation("Either ClusterIdentifier or WorkgroupName is required."));
            }
            _ => {}
        }
        if self.db_user.is_some() && self.secret_arn.is_some() {
            return Err(ApiError::validation("DbUser and SecretArn cannot both be specified."));
        }
        if self.db_user.is_some() && self.cluster_identifier.is_none() {
            return Err(ApiError::validation("DbUser is supported only with ClusterIdentifier."));
        }
        if self.database.is_none() && self.secret_arn.is_none() {
            return Err(ApiError::validation("Database is required unless SecretArn is specified."));
        }
        Ok(())
    }

    fn write_into(&self, object: &mut Map<String, Value>) {
        let fields = [
            ("WorkgroupName", &self.workgroup_name),
            ("ClusterIdentifier", &self.cluster_identifier),
            ("Database", &self.database),
            ("DbUser", &self.db_user),
            ("SecretArn", &self.secret_arn),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                object.insert(name.into(), json!(value));
            }
        }
    }
}

/// ExecuteStatement and BatchExecuteStatement (also read leniently for [`CallRecord`]s).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubmitRequest {
    pub sql: Option<String>,
    pub sqls: Option<Vec<String>>,
    #[serde(flatten)]
    pub connection: Connection,
    pub statement_name: Option<String>,
    pub client_token: Option<String>,
    pub parameters: Option<Value>,
    pub session_id: Option<String>,
    pub session_keep_alive_seconds: Option<Value>,
    pub result_format: Option<String>,
    pub execution_mode: Option<String>,
}

impl SubmitRequest {
    /// What the stand-in does not implement is refused, never ignored.
    pub fn refuse_unsupported(&self) -> Result<(), ApiError> {
        if self.session_id.is_some() || self.session_keep_alive_seconds.is_some() {
            return Err(ApiError::validation(
                "SessionId and SessionKeepAliveSeconds are not supported by the stand-in.",
            ));
        }
        if self.result_format.as_deref().is_some_and(|f| f != "JSON") {
            return Err(ApiError::validation("Only ResultFormat JSON is supported by the stand-in."));
        }
        if self.execution_mode.as_deref().is_some_and(|m| m != "TRANSACTION") {
            return Err(ApiError::validation("Only ExecutionMode TRANSACTION is supported by the stand-in."));
        }
        Ok(())
    }
}

/// DescribeStatement, GetStatementResult, CancelStatement.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdRequest {
    pub id: Option<String>,
    pub next_token: Option<String>,
}

/// One call the stand-in received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallRecord {
    /// "ExecuteStatement", "BatchExecuteStatement", "CancelStatement", …
    pub operation: String,
    /// The statement(s), for Execute/Batch.
    pub sqls: Vec<String>,
    pub workgroup_name: Option<String>,
    pub cluster_identifier: Option<String>,
    pub database: Option<String>,
    pub db_user: Option<String>,
    pub secret_arn: Option<String>,
    pub statement_name: Option<String>,
    pub client_token: Option<String>,
}

impl CallRecord {
    /// The record of a call of `operation` with this body (fields it lacks stay empty).
    pub fn of(operation: &str, body: &[u8]) -> CallRecord {
        let request: SubmitRequest = serde_json::from_slice(body).unwrap_or_default();
        let sqls = request.sqls.unwrap_or_default().into_iter().chain(request.sql).collect();
        let Connection { workgroup_name, cluster_identifier, database, db_user, secret_arn } =
            request.connection;
        CallRecord {
            operation: operation.to_owned(),
            sqls,
            workgroup_name,
            cluster_identifier,
            database,
            db_user,
            secret_arn,
            statement_name: request.statement_name,
            client_token: request.client_token,
        }
    }
}

/// ExecuteStatement / BatchExecuteStatement's answer.
pub fn submitted(statement: &Statement) -> Value {
    let mut object = Map::new();
    object.insert("Id".into(), json!(statement.id));
    object.insert("CreatedAt".into(), json!(statement.created_at));
    statement.connection.write_into(&mut object);
    Value::Object(object)
}

/// DescribeStatement's answer for a statement or batch.
pub fn describe(statement: &Statement) -> Value {
    let mut object = Map::new();
    object.insert("Id".into(), json!(statement.id));
    object.insert("Status".into(), json!(statement.status.wire_name()));
    if let Some(error) = &statement.error {
        object.insert("Error".into(), json!(error));
    }
    object.insert("Duration".into(), json!(statement.clock.nanos()));
    object.insert("CreatedAt".into(), json!(statement.created_at));
    object.insert("UpdatedAt".into(), json!(statement.updated_at));
    object.insert("RedshiftQueryId".into(), json!(statement.query_id));
    statement.connection.write_into(&mut object);
    match statement.subs.as_slice() {
        [single] if !statement.is_batch => {
            object.insert("QueryString".into(), json!(single.sql));
            write_outcome(&mut object, single);
        }
        subs => {
            object.insert("HasResultSet".into(), json!(false));
            object.insert("ResultRows".into(), json!(-1));
            let subs: Vec<Value> =
                subs.iter().enumerate().map(|(i, sub)| describe_sub(statement, i, sub)).collect();
            object.insert("SubStatements".into(), json!(subs));
        }
    }
    Value::Object(object)
}

/// A sub-statement, as in SubStatements (and DescribeStatement of `<id>:<n>`).
pub fn describe_sub(statement: &Statement, index: usize, sub: &Sub) -> Value {
    let mut object = Map::new();
    object.insert("Id".into(), json!(format!("{}:{}", statement.id, index + 1)));
    object.insert("Status".into(), json!(sub.status.wire_name()));
    if let Some(error) = &sub.error {
        object.insert("Error".into(), json!(error));
    }
    object.insert("Duration".into(), json!(sub.clock.nanos()));
    object.insert("CreatedAt".into(), json!(sub.created_at));
    object.insert("UpdatedAt".into(), json!(sub.updated_at));
    object.insert("QueryString".into(), json!(sub.sql));
    object.insert("RedshiftQueryId".into(), json!(sub.query_id));
    write_outcome(&mut object, sub);
    Value::Object(object)
}

fn write_outcome(object: &mut Map<String, Value>, sub: &Sub) {
    let outcome = sub.outcome.as_ref();
    object.insert("HasResultSet".into(), json!(outcome.is_some_and(|o| o.result_set.is_some())));
    object.insert("ResultRows".into(), json!(outcome.map_or(-1, |o| o.result_rows)));
}
