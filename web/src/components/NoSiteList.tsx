// A city offered without a bundled site list (Belgium): the upload flow, front and centre.
import type { UploadResult } from '../api';
import UploadButton from './UploadButton';

interface Props {
  city: string;
  /** the country's name */
  country: string;
  /** the country's code: the upload's default region (its outline; sites just off the coast are snapped) */
  countryCode: string;
  onUploaded: (r: UploadResult) => void;
  onError: (message: string | null) => void;
}

export default function NoSiteList({ city, country, countryCode, onUploaded, onError }: Props) {
  return (
    <div className="card no-site-list" data-testid="no-site-list">
      <strong>No public site list is bundled for {city}.</strong>
      <p>
        The bundled data hold no site list of {country}&apos;s operators{country === 'Belgium' ? ' (Proximus, Orange Belgium, BASE)' : ''}.
        Its outline is drawn on the map. Upload your operator&apos;s site list to compute maps here: a CSV with{' '}
        <code>site_id</code>, <code>lat</code>, <code>lon</code> and optionally <code>operator</code>,{' '}
        <code>height_m</code>, <code>technology</code>, <code>azimuths</code>.
      </p>
      <p>
        The upload keeps {country}&apos;s outline as its region unless you choose none or your own polygon: sites
        just off the coast are moved onto it (the distance is reported), sites outside shape the border cells only.
      </p>
      <UploadButton
        id="upload-cta-input"
        label="Upload a site list (CSV)"
        onUploaded={onUploaded}
        onError={onError}
        defaultRegion={countryCode}
        defaultRegionLabel={country}
      />
    </div>
  );
}
