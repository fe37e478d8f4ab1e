import { operatorColor } from '../palette';

interface Props {
  operators: Array<{ name: string; count: number }>;
  current: string | null;
  onPick?: (operator: string) => void;
}

export default function OperatorLegend({ operators, current, onPick }: Props) {
  if (operators.length === 0) return null;
  return (
    <ul className="operator-legend" data-testid="operator-legend">
      {operators.map((o) => (
        <li
          key={o.name}
          className={o.name === current ? 'current' : undefined}
          data-operator={o.name}
          onClick={onPick ? () => onPick(o.name) : undefined}
          title={onPick ? `Show ${o.name}` : undefined}
        >
          <span className="op-dot" style={{ background: operatorColor(o.name) }} />
          <span className="op-name">{o.name || '(unknown)'}</span>
          <span className="op-count">{o.count}</span>
        </li>
      ))}
      <li className="cluster-hint" data-testid="cluster-hint" title="MapLibre clusters nearby markers at low zoom">
        <span className="op-dot cluster-dot" />
        <span className="op-name">several sites: hover for how many, click to zoom in</span>
      </li>
    </ul>
  );
}
