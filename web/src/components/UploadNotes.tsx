// What the server did with the last upload (POST /api/uploads' `notes`): sites snapped onto the region with their
// distance, sites outside it used as neighbours without a map, rows skipped.
import type { UploadResult } from '../api';

interface Props {
  upload: UploadResult;
  onClose: () => void;
}

export default function UploadNotes({ upload, onClose }: Props) {
  return (
    <div className="card upload-notes" data-testid="upload-notes">
      <header>
        <strong>
          {upload.n_sites} sites uploaded{upload.region ? `, region ${upload.region}` : ', no region (the sites’ surroundings)'}
        </strong>
        <button type="button" className="button" aria-label="Close the upload notes" onClick={onClose}>
          ×
        </button>
      </header>
      {upload.notes.length > 0 ? (
        <ul>
          {upload.notes.map((n) => (
            <li key={n} data-testid="upload-note">
              {n}
            </li>
          ))}
        </ul>
      ) : (
        <p>Every site was read as given.</p>
      )}
    </div>
  );
}
