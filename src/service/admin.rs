//! `warta.v1.AdminService`: operator calls (model reload), token-protected.

use super::{convert, State};
use crate::proto::v1 as pb;
use crate::proto::v1::admin_service_server::AdminService;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct AdminApi {
    state: Arc<State>,
}

impl AdminApi {
    pub fn new(state: Arc<State>) -> Self {
        AdminApi { state }
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn reload_model(&self, request: Request<pb::ReloadModelRequest>) -> Result<Response<pb::ModelInfo>, Status> {
        self.state.accepting()?;
        let served = self.state.reload(&request.into_inner().path).await?;
        Ok(Response::new(convert::model_info(&served)))
    }
}
