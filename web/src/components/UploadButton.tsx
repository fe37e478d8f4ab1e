import { useRef, useState } from 'react';
import { api, type UploadResult } from '../api';
import Spinner from './Spinner';

interface Props {
  onUploaded: (result: UploadResult) => void;
  onError: (message: string) => void;
  /** element id of the file input (unique on the page) and its test id */
  id?: string;
  label?: string;
}

/** Uploads a CSV site list (POST /api/uploads, multipart field `file`). */
export default function UploadButton({ onUploaded, onError, id = 'upload-input', label = 'Upload sites (CSV)' }: Props) {
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);

  const onFile = async (file: File | undefined) => {
    if (!file) return;
    setBusy(true);
    try {
      onUploaded(await api.upload(file));
    } catch (e) {
      onError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
      if (input.current) input.current.value = '';
    }
  };

  return (
    <div className="upload">
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
