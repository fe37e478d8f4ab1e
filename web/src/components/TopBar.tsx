// The top bar: brand, the scene and model selects, the upload button.
import type { Catalog, UploadResult } from '../api';
import { cityOptions, countryOptions, modelOptions, operatorOptions } from '../scene';
import type { Scene } from '../urls';
import Select from './Select';
import UploadButton from './UploadButton';

interface Props {
  catalog: Catalog | null;
  uploads: UploadResult[];
  scene: Scene | null;
  isUpload: boolean;
  model: string;
  onScene: (part: Partial<Scene>) => void;
  onModel: (model: string) => void;
  onUploaded: (r: UploadResult) => void;
  onError: (message: string | null) => void;
}

export default function TopBar({ catalog, uploads, scene, isUpload, model, onScene, onModel, onUploaded, onError }: Props) {
  const operators = catalog && scene ? operatorOptions(catalog, uploads, scene.country, scene.city) : [];
  return (
    <header className="topbar">
      <div className="brand">
        <span className="brand-name">DeepMEND</span>
        <span className="brand-sub">spatial diffusion maps of base stations</span>
      </div>
      <nav className="selects">
        <Select
          testid="select-country"
          label="Country"
          value={scene?.country ?? ''}
          options={catalog ? countryOptions(catalog, uploads) : []}
          onChange={(country) => onScene({ country, city: undefined, operator: undefined })}
        />
        <Select
          testid="select-city"
          label={isUpload ? 'Upload' : 'City'}
          value={scene?.city ?? ''}
          options={catalog && scene ? cityOptions(catalog, uploads, scene.country) : []}
          onChange={(city) => onScene({ city, operator: scene?.operator })}
        />
        <Select
          testid="select-operator"
          label="Operator"
          value={scene?.operator ?? ''}
          options={operators}
          onChange={(operator) => onScene({ operator })}
          // a city without a bundled site list says so instead of an empty select
          disabled={operators.length === 0}
          empty={scene?.city && operators.length === 0 ? { value: '', label: 'none bundled: upload yours' } : undefined}
        />
        <Select
          testid="select-model"
          label="Model"
          value={model}
          options={catalog ? modelOptions(catalog) : []}
          onChange={onModel}
        />
      </nav>
      <UploadButton
        onUploaded={onUploaded}
        onError={onError}
        defaultRegion={!isUpload && scene?.country ? scene.country : null}
        defaultRegionLabel={catalog?.countries.find((c) => c.code === scene?.country)?.name}
      />
    </header>
  );
}
