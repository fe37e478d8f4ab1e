import type { Site } from '../map/sites';
import { fmtCoord, fmtHeight } from '../format';

interface Props {
  site: Site | null;
  siteId: string | null;
  operator: string;
}

export default function SiteDetails({ site, siteId, operator }: Props) {
  if (!siteId) {
    return (
      <div className="card" data-testid="bs-details" data-state="empty">
        <h3>Base station</h3>
        <div className="card-note">Click a base station on the map to see its spatial diffusion map.</div>
      </div>
    );
  }
  const members = Array.isArray(site?.members) ? site!.members : [];
  return (
    <div className="card" data-testid="bs-details" data-state="selected" data-site-id={siteId}>
      <h3>
        {site && <span className="op-dot" style={{ background: site.color }} />}
        Base station
      </h3>
      <dl className="kv">
        <dt>id</dt>
        <dd data-field="site_id">{siteId}</dd>
        <dt>operator</dt>
        <dd data-field="operator">{site?.operator ?? operator}</dd>
        <dt>lat</dt>
        <dd data-field="lat">{fmtCoord(site?.lat)}</dd>
        <dt>lon</dt>
        <dd data-field="lon">{fmtCoord(site?.lon)}</dd>
        <dt>height</dt>
        <dd data-field="height_m">{fmtHeight(site?.height_m)}</dd>
        <dt>technology</dt>
        <dd data-field="technology">{site?.technology ?? '—'}</dd>
        {members.length > 1 && (
          <>
            <dt>merged ids</dt>
            <dd data-field="members" title={members.join(', ')}>
              {members.length}: {members.slice(0, 4).join(', ')}
              {members.length > 4 ? ', …' : ''}
            </dd>
          </>
        )}
      </dl>
    </div>
  );
}
