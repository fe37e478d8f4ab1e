import { useEffect, useState } from 'react';

interface Props {
  value: number | null;
  onChange: (alpha: number | null) => void;
}

/** The exponent of the probabilistic model; empty means the server's default. */
export default function AlphaInput({ value, onChange }: Props) {
  const [text, setText] = useState(value === null ? '' : String(value));
  useEffect(() => {
    const parsed = text.trim() === '' ? null : Number(text);
    if (parsed !== value) setText(value === null ? '' : String(value));
    // only follow outside changes of the value
  }, [value]);
  const commit = (t: string) => {
    setText(t);
    if (t.trim() === '') return onChange(null);
    const v = Number(t);
    if (Number.isFinite(v) && v > 0) onChange(v);
  };
  const invalid = text.trim() !== '' && !(Number(text) > 0);
  return (
    <label className="select" title="exponent α of the probabilistic model (> 0); empty: server default">
      <span className="select-label">alpha</span>
      <input
        type="number"
        data-testid="input-alpha"
        step={0.1}
        min={0.1}
        placeholder="default"
        aria-invalid={invalid}
        className={invalid ? 'invalid' : undefined}
        value={text}
        onChange={(e) => commit(e.target.value)}
      />
    </label>
  );
}
