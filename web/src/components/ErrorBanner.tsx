interface Props {
  message: string | null;
  onDismiss: () => void;
}

export default function ErrorBanner({ message, onDismiss }: Props) {
  if (!message) return null;
  return (
    <div className="error-banner" role="alert">
      <span className="error-banner-icon" aria-hidden="true">
        !
      </span>
      <span className="error-banner-text" data-testid="error-banner">
        {message}
      </span>
      <button type="button" className="error-banner-close" aria-label="Dismiss" onClick={onDismiss} />
    </div>
  );
}
