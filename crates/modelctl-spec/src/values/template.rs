//! minijinja templates written in specs (`train.output`): they must parse and
//! use only the variables modelctl provides.

use super::{ValueError, quoted, string_value};

/// The variables a template may use: the model's name, the training run's id,
/// the environment, its namespace and the sweep parameters.
pub const TEMPLATE_VARIABLES: [&str; 5] = ["model", "run", "env", "namespace", "params"];

string_value!(
    /// A minijinja template over `model`, `run`, `env`, `namespace` and
    /// `params` (`s3://ml-models/{{ model }}/{{ run }}`).
    Template,
    check = check_template,
    pattern = None,
    max = 4096,
    desc = "A minijinja template over `model`, `run`, `env`, `namespace` and `params`."
);

/// The variables a namespace template may use.
pub const NAMESPACE_TEMPLATE_VARIABLES: [&str; 3] = ["owner", "model", "env"];

string_value!(
    /// A minijinja template over `owner`, `model` and `env` that makes a
    /// model's namespace (`ml-{{ owner }}`).
    NamespaceTemplate,
    check = check_namespace_template,
    pattern = None,
    max = 253,
    desc = "A minijinja template over `owner`, `model` and `env` whose result is a namespace name, e.g. `ml-{{ owner }}`."
);

fn check_namespace_template(s: &str) -> Result<(), ValueError> {
    check_variables(s, &NAMESPACE_TEMPLATE_VARIABLES)
}

impl NamespaceTemplate {
    /// The template rendered for `owner`, `model` and `env`; the text, or
    /// minijinja's complaint.
    pub fn render(&self, owner: &str, model: &str, env: &str) -> Result<String, String> {
        let jinja = minijinja::Environment::new();
        jinja
            .render_str(
                self.as_str(),
                minijinja::context! { owner => owner, model => model, env => env },
            )
            .map(|s| s.trim().to_owned())
            .map_err(|e| {
                e.detail()
                    .unwrap_or("the template does not render")
                    .to_owned()
            })
    }
}

fn check_template(s: &str) -> Result<(), ValueError> {
    check_variables(s, &TEMPLATE_VARIABLES)
}

fn check_variables(s: &str, variables: &[&str]) -> Result<(), ValueError> {
    let env = minijinja::Environment::new();
    let tmpl = env.template_from_str(s).map_err(|e| {
        ValueError::new(
            format!(
                "{} is not a valid template: {}",
                quoted(s),
                e.detail().unwrap_or("syntax error")
            ),
            "write variables as `{{ run }}`; see https://docs.rs/minijinja for the syntax",
        )
    })?;
    let mut unknown: Vec<String> = tmpl
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !variables.contains(&v.as_str()))
        .collect();
    unknown.sort();
    if let Some(first) = unknown.first() {
        return Err(ValueError::new(
            format!("template uses unknown variable `{first}`"),
            format!("the variables are {}", list(variables)),
        ));
    }
    Ok(())
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Template {
    /// Whether the template reads the sweep parameters (`params`).
    pub fn uses_params(&self) -> bool {
        let env = minijinja::Environment::new();
        env.template_from_str(self.as_str())
            .map(|t| t.undeclared_variables(false).contains("params"))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_variables_pass() {
        let t: Template = "s3://m/{{ model }}/{{ env }}/{{ run }}".parse().unwrap();
        assert!(!t.uses_params());
        let t: Template = "s3://m/{{ params['learning-rate'] }}".parse().unwrap();
        assert!(t.uses_params());
    }

    #[test]
    fn unknown_variable_is_named() {
        let err = "s3://m/{{ runid }}".parse::<Template>().unwrap_err();
        assert_eq!(err.message, "template uses unknown variable `runid`");
    }

    #[test]
    fn deeply_nested_expressions_are_an_error_not_a_crash() {
        let deep = format!("{{{{ {}run{} }}}}", "(".repeat(2000), ")".repeat(2000));
        assert!(deep.parse::<Template>().is_err());
    }

    #[test]
    fn syntax_errors_are_reported() {
        let err = "s3://m/{{ run ".parse::<Template>().unwrap_err();
        assert!(
            err.message.contains("is not a valid template"),
            "{}",
            err.message
        );
    }
}
