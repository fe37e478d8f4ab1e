import type { Option } from '../scene';

interface Props {
  testid: string;
  label: string;
  value: string;
  options: Option[];
  onChange: (value: string) => void;
  disabled?: boolean;
  /** an extra first option, e.g. "none" */
  empty?: { value: string; label: string };
}

export default function Select({ testid, label, value, options, onChange, disabled, empty }: Props) {
  const known = options.some((o) => o.value === value) || (empty && empty.value === value);
  return (
    <label className="select">
      <span className="select-label">{label}</span>
      <select
        data-testid={testid}
        value={value}
        disabled={disabled || (options.length === 0 && !empty)}
        onChange={(e) => onChange(e.target.value)}
      >
        {empty && <option value={empty.value}>{empty.label}</option>}
        {!known && value !== '' && <option value={value}>{value}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value} disabled={o.disabled} title={o.title}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}
