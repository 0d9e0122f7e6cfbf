//! Which upstream serves a model name: the embedded model under its
//! configured name, or an OpenAI-compatible upstream under each name its
//! configuration maps.

use super::engine::Engine;
use crate::config::UpstreamConfig;
use std::collections::BTreeMap;
use std::time::Duration;
use tollway_llm::remote::RemoteModel;

/// Where one model name is served.
#[derive(Clone)]
pub enum Target {
    /// The embedded model.
    Local(Engine),
    /// An OpenAI-compatible upstream.
    Remote {
        /// The upstream's configured name.
        upstream: String,
        /// The model's name upstream.
        model: String,
        /// Its client.
        client: RemoteModel,
    },
}

impl Target {
    /// The name recorded in usage records: `local` or the upstream's.
    pub fn upstream_name(&self) -> &str {
        match self {
            Target::Local(_) => "local",
            Target::Remote { upstream, .. } => upstream,
        }
    }
}

/// Every model name clients may ask for.
#[derive(Clone, Default)]
pub struct Models {
    routes: BTreeMap<String, Target>,
    engine: Option<Engine>,
}

/// A configuration that maps one name twice, or an unusable upstream.
#[derive(Debug, thiserror::Error)]
#[error("upstream configuration: {0}")]
pub struct RouteError(String);

impl Models {
    /// The routing table for the embedded model (if loaded) and the
    /// configured upstreams.
    pub fn new(engine: Option<Engine>, upstreams: &[UpstreamConfig]) -> Result<Models, RouteError> {
        let mut routes = BTreeMap::new();
        if let Some(e) = &engine {
            routes.insert(e.name.clone(), Target::Local(e.clone()));
        }
        for u in upstreams {
            let idle = Duration::from_secs(u.idle_timeout_secs.max(1));
            let client = RemoteModel::new(&u.base_url, u.api_key.clone(), idle).map_err(|e| RouteError(format!("{}: {e}", u.name)))?;
            for (public, upstream_model) in &u.models {
                let target = Target::Remote { upstream: u.name.clone(), model: upstream_model.clone(), client: client.clone() };
                if routes.insert(public.clone(), target).is_some() {
                    return Err(RouteError(format!("model name {public:?} is served twice")));
                }
            }
        }
        Ok(Models { routes, engine })
    }

    /// The target serving `model`.
    pub fn get(&self, model: &str) -> Option<&Target> {
        self.routes.get(model)
    }

    /// Model names with the upstream serving each, in name order.
    pub fn list(&self) -> impl Iterator<Item = (&str, &str)> {
        self.routes.iter().map(|(name, t)| (name.as_str(), t.upstream_name()))
    }

    /// The embedded model, when loaded (its tokenizer counts remote text).
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }
}
