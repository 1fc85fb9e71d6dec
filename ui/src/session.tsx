// Who is logged in (or that access control is off), shared by every page.
import { createContext, useContext } from 'react';
import type { SessionInfo } from './api';

export interface SessionState {
  session: SessionInfo;
  refresh(): Promise<void>;
}

export const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no session context');
  return s;
}

/** The user's role in a namespace ('admin' for administrators; null without one). */
export function roleIn(session: SessionInfo, namespace: string): string | null {
  if (!session.user) return null;
  if (session.user.admin) return 'admin';
  return session.user.namespaces.find((n) => n.namespace === namespace)?.role ?? null;
}

export function canManage(session: SessionInfo, namespace: string): boolean {
  const role = roleIn(session, namespace);
  return role === 'admin' || role === 'owner';
}
