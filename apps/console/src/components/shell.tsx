import { useEffect, useRef, useState } from 'react';
import { NavLink, Navigate, Outlet, useLocation } from 'react-router';
import { useSessionContext } from '../auth/session';

const NAV = [
  { to: '/adapters', label: 'Adapters' },
  { to: '/base-models', label: 'Base models' },
  { to: '/artifacts', label: 'Routers & artifacts' },
  { to: '/jobs', label: 'Jobs' },
  { to: '/playground', label: 'Playground' },
  { to: '/keys', label: 'API keys', adminOnly: true },
  { to: '/health', label: 'System health' },
] as const;

/** Everything behind the login: skip link, navigation (a menu button on phones), the page. */
export function Shell() {
  const { session, logout } = useSessionContext();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const mainRef = useRef<HTMLElement>(null);

  // A route change closes the phone menu and moves focus to the page, as a page load would.
  useEffect(() => {
    setMenuOpen(false);
    mainRef.current?.focus({ preventScroll: true });
  }, [location.pathname]);

  if (session === null) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  const isAdmin = session.me.role === 'admin';

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button type="button" className="menu-button" aria-expanded={menuOpen} aria-controls="site-nav" onClick={() => setMenuOpen((o) => !o)}>
          <span aria-hidden="true">☰</span>
          <span className="visually-hidden">Menu</span>
        </button>
        <span className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Palette
        </span>
        <div className="whoami">
          <span>
            {session.me.name} <span className="badge badge-neutral">{session.me.role}</span>
          </span>
          <button type="button" className="button button-ghost" onClick={logout}>
            Sign out
          </button>
        </div>
      </header>
      <nav id="site-nav" className={`sidebar${menuOpen ? ' open' : ''}`} aria-label="Main">
        <ul>
          {NAV.filter((item) => !('adminOnly' in item) || isAdmin).map((item) => (
            <li key={item.to}>
              <NavLink to={item.to}>{item.label}</NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
