//! `Parameters` of ExecuteStatement and BatchExecuteStatement: named `:name` placeholders in the
//! SQL, each filled with its value as a string literal, which PostgreSQL (like Redshift,
//! "SqlParameter", Redshift Data API reference) converts to the type the placeholder is compared
//! with. Validated as the service does: names match `[0-9a-zA-Z_]+`, values are at least one
//! character, every parameter given is used and every placeholder has a value.

use serde::Deserialize;
use serde_json::Value;

use super::protocol::ApiError;

/// One `{"name": …, "value": …}` of the request.
#[derive(Debug, Deserialize)]
struct Parameter {
    name: String,
    value: String,
}

/// `sqls` with their placeholders filled from `parameters` (the request's JSON, when given).
pub fn bind(sqls: Vec<String>, parameters: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let Some(parameters) = parameters else { return Ok(sqls) };
    let parameters: Vec<Parameter> = serde_json::from_value(parameters.clone())
        .map_err(|e| ApiError::validation(format!("Parameters is not a list of name/value pairs: {e}")))?;
    for parameter in &parameters {
        if parameter.name.is_empty() || !parameter.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ApiError::validation(format!("Parameter name {:?} is invalid.", parameter.name)));
        }
        if parameter.value.is_empty() {
            return Err(ApiError::validation(format!("Parameter {} has an empty value.", parameter.name)));
        }
    }
    let mut used = vec![false; parameters.len()];
    let bound =
        sqls.iter().map(|sql| substitute(sql, &parameters, &mut used)).collect::<Result<Vec<_>, _>>()?;
    if let Some(unused) = parameters.iter().zip(&used).find(|(_, used)| !**used) {
        return Err(ApiError::validation(format!("Parameter {} is not used in the SQL.", unused.0.name)));
    }
    Ok(bound)
}

/// Replaces each `:name` outside quotes (and not a `::` cast) with its value as a literal.
fn substitute(sql: &str, parameters: &[Parameter], used: &mut [bool]) -> Result<String, ApiError> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
                i += 1;
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
                i += 1;
            }
            None if c == ':' && chars.get(i + 1) == Some(&':') => {
                out.push_str("::");
                i += 2;
            }
            None if c == ':' && chars.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric() || *n == '_') => {
                let end = (i + 1..chars.len())
                    .find(|&k| !(chars[k].is_ascii_alphanumeric() || chars[k] == '_'))
                    .unwrap_or(chars.len());
                let name: String = chars[i + 1..end].iter().collect();
                let index = parameters
                    .iter()
                    .position(|p| p.name == name)
                    .ok_or_else(|| ApiError::validation(format!("No value for the parameter :{name}.")))?;
                used[index] = true;
                out.push_str(&format!("'{}'", parameters[index].value.replace('\'', "''")));
                i = end;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}
