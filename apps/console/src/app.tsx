import { createBrowserRouter, Navigate, RouterProvider } from 'react-router';
import { SessionProvider } from './auth/session';
import { Shell } from './components/shell';
import { AdapterDetailPage } from './pages/adapter-detail';
import { AdapterUploadPage } from './pages/adapter-upload';
import { AdaptersPage } from './pages/adapters';
import { ArtifactDetailPage } from './pages/artifact-detail';
import { ArtifactsPage } from './pages/artifacts';
import { BaseModelDetailPage } from './pages/base-model-detail';
import { BaseModelsPage } from './pages/base-models';
import { HealthPage } from './pages/health';
import { JobDetailPage } from './pages/job-detail';
import { JobsPage } from './pages/jobs';
import { KeysPage } from './pages/keys';
import { LoginPage } from './pages/login';
import { NotFoundPage } from './pages/not-found';
import { PlaygroundPage } from './pages/playground';

const router = createBrowserRouter(
  [
    { path: '/login', element: <LoginPage /> },
    {
      element: <Shell />,
      children: [
        { index: true, element: <Navigate to="/adapters" replace /> },
        { path: 'adapters', element: <AdaptersPage /> },
        { path: 'adapters/new', element: <AdapterUploadPage /> },
        { path: 'adapters/:name', element: <AdapterDetailPage /> },
        { path: 'base-models', element: <BaseModelsPage /> },
        { path: 'base-models/:name', element: <BaseModelDetailPage /> },
        { path: 'artifacts', element: <ArtifactsPage /> },
        { path: 'artifacts/:id', element: <ArtifactDetailPage /> },
        { path: 'jobs', element: <JobsPage /> },
        { path: 'jobs/:id', element: <JobDetailPage /> },
        { path: 'playground', element: <PlaygroundPage /> },
        { path: 'keys', element: <KeysPage /> },
        { path: 'health', element: <HealthPage /> },
        { path: '*', element: <NotFoundPage /> },
      ],
    },
  ],
  // registry-api serves the console under /console (vite's base).
  { basename: '/console' },
);

export function App() {
  return (
    <SessionProvider>
      <RouterProvider router={router} />
    </SessionProvider>
  );
}
