export { createRouterApp, RouterAppModule, type CreateRouterAppOptions } from './app.module';
export { loadRouterConfig, RouterConfigError, ROUTER_CONFIG, type RouterConfig } from './config/router-config';
export { RouterMetrics } from './metrics/router-metrics';
export { AdapterService } from './adapters/adapter-service';
