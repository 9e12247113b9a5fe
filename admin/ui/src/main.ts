// The admin app's entry: the shell (sign-in, navigation, notifications) is in the initial bundle; every
// page, and the expression editor, loads on demand.
import { mount } from 'svelte';
import App from './App.svelte';
import { prefs } from './lib/state.svelte';
import { loadLanguage } from './lib/i18n';
import './app.css';

await loadLanguage(prefs.lang);
mount(App, { target: document.getElementById('app')! });
