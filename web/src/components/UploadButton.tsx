import { useEffect, useRef, useState } from 'react';
import { api, type UploadRegion, type UploadResult } from '../api';
import Spinner from './Spinner';

interface Props {
  onUploaded: (result: UploadResult) => void;
  onError: (message: string) => void;
  /** element id of the file input (unique on the page) and its test id; the region controls use `${id}-region…` */
  id?: string;
  label?: string;
  /** the bundled region offered by default (the country selected now, e.g. `BE`); null: none by default */
  defaultRegion?: string | null;
  /** the default region's name as shown (e.g. "Belgium") */
  defaultRegionLabel?: string;
}

/** What the region select holds besides a bundled name. */
const NONE = '';
const FILE = '__file__';

/**
 * Uploads a CSV site list (POST /api/uploads, multipart field `file`) with its region: the country selected
 * now by default (sites just outside its coast are snapped, sites far outside shape the border cells without
 * a map of their own), none, or a GeoJSON polygon file.
 */
export default function UploadButton({
  onUploaded,
  onError,
  id = 'upload-input',
  label = 'Upload sites (CSV)',
  defaultRegion = null,
  defaultRegionLabel,
}: Props) {
  const input = useRef<HTMLInputElement>(null);
  const regionInput = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [choice, setChoice] = useState<string>(defaultRegion ?? NONE);
  const [regionFile, setRegionFile] = useState<File | null>(null);

  // another country selected: its outline becomes the default again
  useEffect(() => {
    setChoice(defaultRegion ?? NONE);
    setRegionFile(null);
  }, [defaultRegion]);

  const region = (): UploadRegion | undefined => {
    if (choice === FILE) return regionFile ? { region_file: regionFile } : undefined;
    return choice ? { region: choice } : undefined;
  };

  const onFile = async (file: File | undefined) => {
    if (!file) return;
    if (choice === FILE && !regionFile) {
      onError('Choose the region file (GeoJSON polygon) first, or another region.');
      if (input.current) input.current.value = '';
      return;
    }
    setBusy(true);
    try {
      onUploaded(await api.upload(file, region()));
    } catch (e) {
      onError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
      if (input.current) input.current.value = '';
    }
  };

  return (
    <div className="upload">
      <select
        className="upload-region"
        data-testid={`${id}-region`}
        aria-label="Region of the upload"
        title="The study area of your sites: sites up to 2 km outside it are snapped to it (the distance is reported), sites farther out shape the border cells but get no map"
        value={choice}
        disabled={busy}
        onChange={(e) => setChoice(e.target.value)}
      >
        {defaultRegion && <option value={defaultRegion}>region: {defaultRegionLabel ?? defaultRegion}</option>}
        <option value={NONE}>region: none</option>
        <option value={FILE}>region: GeoJSON file…</option>
      </select>
      {choice === FILE && (
        <>
          <input
            ref={regionInput}
            id={`${id}-region-file`}
            data-testid={`${id}-region-file`}
            type="file"
            accept=".geojson,.json,application/geo+json,application/json"
            className="visually-hidden"
            disabled={busy}
            onChange={(e) => setRegionFile(e.target.files?.[0] ?? null)}
          />
          <label htmlFor={`${id}-region-file`} className="button" title="A GeoJSON polygon of your study area (any CRS with a 'crs' member)">
            {regionFile ? regionFile.name : 'Region file…'}
          </label>
        </>
      )}
      <input
        ref={input}
        id={id}
        data-testid={id}
        type="file"
        accept=".csv,text/csv,text/plain"
        className="visually-hidden"
        disabled={busy}
        onChange={(e) => void onFile(e.target.files?.[0])}
      />
      <label
        htmlFor={id}
        className={`button button-primary${busy ? ' button-busy' : ''}`}
        title="Upload a CSV site list (columns such as site_id, lat, lon, operator, height, technology)"
      >
        {busy ? <Spinner label="Uploading…" /> : label}
      </label>
    </div>
  );
}
