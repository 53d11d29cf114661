import { Link } from 'react-router';
import { PageHeader } from '../components/feedback';

export function NotFoundPage() {
  return (
    <>
      <PageHeader title="Page not found" description="There is no console page at this address." />
      <Link to="/adapters">Go to adapters</Link>
    </>
  );
}
